"""The house's layers, read from the source: services take plain values and never reach for the request."""
import ast
import inspect
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


def _domains(package=PACKAGE):
    """The domain packages: every package of casting but the kernel."""
    return sorted(path.parent.name for path in package.glob("*/__init__.py") if path.parent.name != "kernel")


def _cross_domain_imports(package=PACKAGE):
    """(file, its domain, the other domain, the module below it or None, the imported name) for every import of
    another domain from inside a domain package."""
    domains = set(_domains(package))
    for path in sorted(package.glob("*/**/*.py")):
        own = path.relative_to(package).parts[0]
        if own not in domains:
            continue
        for module, name in _imports(path):
            parts = module.split(".")
            if parts[0] != "casting" or len(parts) < 2 or parts[1] not in domains or parts[1] == own:
                continue
            yield path, own, parts[1], ".".join(parts[2:]) or None, name


def test_a_domain_imports_another_only_through_its_public_face():
    """`from casting.<other> import name` with `name` in the other's face, or its tables (`models`); never
    one of its private modules (`casting.talents.services`, `casting.users.schemas`, ...)."""
    import importlib

    faces = {domain: getattr(importlib.import_module(f"casting.{domain}"), "PUBLIC", frozenset())
             for domain in _domains()}
    checked = 0
    for path, own, other, below, name in _cross_domain_imports():
        where = f"{path.relative_to(PACKAGE)} imports casting.{other}.{below or name}"
        if below is not None:
            assert below == "models", f"{where}: a private module of {other}; add the name to its public face"
        else:
            assert name in faces[other] or name == "models", f"{where}: {name} is not in {other}'s public face"
        checked += 1
    assert checked > 50


def test_the_check_finds_a_private_import(tmp_path):
    """The check above reads real import statements: a private import in a domain file is found."""
    for domain in ("calls", "talents"):
        (tmp_path / domain).mkdir()
        (tmp_path / domain / "__init__.py").write_text("")
    (tmp_path / "calls" / "services.py").write_text(
        "from casting.talents.services import view\nfrom casting.talents import TALENT\n")
    found = [(other, below, name) for _, _, other, below, name in _cross_domain_imports(tmp_path)]
    assert found == [("talents", "services", "view"), ("talents", None, "TALENT")]


def test_every_public_name_is_there():
    """A face names only what its modules hold (a renamed function fails here, not in another domain)."""
    import importlib

    for domain in _domains():
        package = importlib.import_module(f"casting.{domain}")
        modules = {path.stem for path in (PACKAGE / domain).glob("*.py")}
        for name in getattr(package, "PUBLIC", ()):
            assert getattr(package, name) is not None, f"casting.{domain}.{name}"
            if name in modules:  # a module of the same name would shadow the name once imported
                assert inspect.ismodule(getattr(package, name)), f"casting.{domain}.{name} is also a module"


def test_every_offset_paged_list_wears_the_paging_decorator():
    """No view documents a page by hand or runs `paginate` itself: `@paginated` does both, one way."""
    import re

    paged = 0
    for path in sorted(PACKAGE.glob("*/routes.py")):
        source = path.read_text()
        assert not re.search(r"\.response\(\s*200,\s*page_of\(", source), f"{path.name}: use @paginated"
        assert not re.search(r"\bpaginate\(", source), f"{path.relative_to(ROOT)}: return the query to @paginated"
        paged += len(re.findall(r"@paginated\(", source))
    assert paged >= 20


def test_paged_lists_document_a_generated_example(client):
    """Each page's example is the item's example in the one envelope (`page_example`)."""
    spec = client.get("/api/openapi.json").json
    examples = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue  # the path's own `parameters`
            content = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
            example = content.get("example")
            if isinstance(example, dict) and "per_page" in example.get("meta", {}):
                items = example["items"]
                assert example["meta"] == {"page": 1, "per_page": 20, "total": len(items), "total_pages": 1}, path
                examples += 1
    assert examples >= 20


def test_each_domain_is_wired_by_its_own_init_app_and_create_app_lists_them_all():
    import importlib

    from casting.app import DOMAINS

    names = _domains()
    assert sorted(domain.__name__.removeprefix("casting.") for domain in DOMAINS) == names
    for name in names:
        assert callable(importlib.import_module(f"casting.{name}").__dict__.get("init_app")), name


def test_no_import_is_there_only_for_its_side_effect_and_jobs_are_enqueued_by_function():
    import re

    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        assert "noqa: F401" not in source, f"{path.relative_to(ROOT)}: wire it in an init_app instead"
        assert not re.search(r"""enqueue(_in)?\([^)]*["']casting\.""", source), \
            f"{path.relative_to(ROOT)}: enqueue the task function, not its dotted path"
        assert not re.search(r"""Callback\(\s*["']""", source), f"{path.relative_to(ROOT)}: a callback by function"


def test_an_app_books_the_periodic_jobs_its_domains_registered(app):
    booked = {path: job.periodic_setting for path, job in app.extensions["periodic_jobs"].items()}
    assert {"casting.auditions.repair.repair_lost_work": "REPAIR_MINUTES",
            "casting.calls.tasks.close_calls_past_deadline": "CALLS_SWEEP_MINUTES",
            "casting.kernel.idempotency.prune_idempotency_keys": "REPAIR_MINUTES",
            "casting.calls.tasks.send_digests": "CALLS_DIGEST_MINUTES",
            "casting.calls.tasks.submissions_received": "CALLS_SWEEP_MINUTES",
            "casting.messaging.tasks.prune_unsent_attachments": "ATTACHMENT_PRUNE_MINUTES",
            "casting.notifications.tasks.reconcile_notifications": "NOTIFY_RECONCILE_MINUTES",
            "casting.safety.tasks.flag_digest": "SAFETY_DIGEST_MINUTES",
            "casting.tapes.tasks.prune_abandoned_uploads": "VIDEO_PRUNE_MINUTES"} == booked


def test_every_app_gets_the_chat_handlers_on_its_own_socket_server(make_app):
    from casting.kernel.extensions import socketio

    for _ in range(2):
        make_app()
        handlers = socketio.server.handlers["/chat"]
        assert {"connect", "disconnect", "message:send", "message:read", "typing"} <= set(handlers)


KERNEL = PACKAGE / "kernel"
ROOTS = {"casting.app", "casting.cli", "casting.models", "casting.seeding"}  # where the domains are put together


def test_the_kernel_imports_no_domain_and_nothing_above_it():
    """Domains may import the kernel; the kernel (even inside a function) never a domain nor the app."""
    domains = set(_domains())
    for path in sorted(KERNEL.rglob("*.py")):
        for module, _ in _imports(path):
            parts = module.split(".")
            assert not (parts[0] == "casting" and len(parts) > 1 and parts[1] in domains), \
                f"{path.relative_to(ROOT)} imports the domain {module}"
            assert module not in ROOTS and module != "casting", f"{path.relative_to(ROOT)} imports {module}"
    assert not [path.name for path in PACKAGE.glob("*.py")
                if f"casting.{path.stem}" not in ROOTS | {"casting.__init__"}], "a flat module outside the kernel"


def _module_of(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _lent(package_init):
    """What a domain's face lends: {public name: the module that defines it}, read from its __init__.py."""
    lent = {}
    for node in ast.walk(ast.parse(package_init.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "public_face":
            exports = node.args[1]
            for key, names in zip(exports.keys, exports.values):
                for name in names.elts:
                    lent[name.value.partition("=")[0]] = key.value
            for keyword in node.keywords:
                if keyword.arg == "modules":
                    lent.update({name.value: name.value for name in keyword.value.elts})
    return lent


def _import_time_graph():
    """casting module -> the casting modules its import-time (top-level) statements load."""
    modules = {_module_of(path): path for path in PACKAGE.rglob("*.py")}
    lent = {name.removeprefix("casting."): _lent(path) for name, path in modules.items()
            if path.name == "__init__.py" and name.count(".") == 1}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.parse(path.read_text()).body:  # top level only: a function's imports run later
            targets = []
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [(node.module, alias.name) for alias in node.names]
            for module, imported in targets:
                if not module.startswith("casting"):
                    continue
                below = f"{module}.{imported}" if imported else None
                if below in modules:
                    edges.add(below)
                elif module.count(".") == 1 and imported in lent.get(module.split(".")[1], {}):
                    edges.add(f"{module}.{lent[module.split('.')[1]][imported]}")
                elif module in modules:
                    edges.add(module)
        graph[name] = edges - {name}
    return graph


def test_there_is_no_import_cycle():
    graph = _import_time_graph()
    assert len(graph) > 100
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(target):] + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
