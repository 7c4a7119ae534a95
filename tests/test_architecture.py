"""The house's layers, read from the source: services take plain values and never reach for the request."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "casting"


def _imports(path):
    """Every (module, name) a file imports: `import a.b` gives ("a.b", None), `from a import b` ("a", "b")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def _services():
    """The service modules: each domain's services.py and the auth package's sessions.py."""
    return sorted(PACKAGE.glob("*/services.py")) + [PACKAGE / "auth" / "sessions.py"]


def test_no_service_reads_the_request():
    assert len(_services()) > 10
    for path in _services():
        for module, name in _imports(path):
            assert (module, name) != ("flask", "request") and module != "flask.request", \
                f"{path.relative_to(ROOT)} imports flask.request: take the value from the view instead"
