"""The runtime the house plan sets: gevent first, Socket.IO on gevent with the Redis queue, no eventlet."""
import importlib.util
import os
import re
from pathlib import Path

from casting.kernel.errors import CATALOGUE
from casting.kernel.extensions import socketio

ROOT = Path(__file__).resolve().parent.parent


def test_wsgi_patches_gevent_on_its_first_line():
    first = (ROOT / "wsgi.py").read_text().splitlines()[0]
    assert first.startswith("from gevent import monkey; monkey.patch_all()")


def test_socketio_runs_on_gevent_with_the_redis_message_queue(app):
    from socketio import RedisManager

    assert socketio.server.async_mode == "gevent"
    assert isinstance(socketio.server.manager, RedisManager)
    assert socketio.server.manager.redis_url == app.config["REDIS_URL"]


def test_the_gunicorn_master_can_attach_servers_without_loading_the_app():
    import subprocess
    import sys

    probe = ("import sys, casting.kernel.embedded; "
             "print(sorted(m for m in ('flask', 'ssl', 'redis', 'prometheus_client') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_eventlet_is_not_installed():
    assert importlib.util.find_spec("eventlet") is None


def test_procfile_runs_release_web_and_worker():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert procfile == {"release": "flask db upgrade", "web": "gunicorn -c gunicorn.conf.py wsgi:app",
                        "worker": "flask worker"}


def test_docs_document_every_setting_and_error_code():
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    errors = (ROOT / "docs" / "errors.md").read_text()
    sources = (ROOT / "config.py").read_text() + (ROOT / "gunicorn.conf.py").read_text()
    settings = set(re.findall(r'_(?:str|int|bool|list)\(\s*"([A-Z_]+)"', sources))
    settings |= set(re.findall(r'os\.environ(?:\.get|\.setdefault)?\(\s*"([A-Z_]+)"', sources))
    assert len(settings) > 20
    for name in settings:
        assert f"| `{name}` |" in configuration, f"docs/configuration.md does not document {name}"
    for error in CATALOGUE:
        assert f"| `{error.code}` | {error.status} | {error.message} |" in errors, f"docs/errors.md lacks {error.code}"


def test_the_error_table_is_generated_from_the_catalogue(app):
    from casting.kernel.errors import with_catalogue

    current = (ROOT / "docs" / "errors.md").read_text()
    assert with_catalogue(current) == current, "docs/errors.md is not current: run `flask docs errors`"
    assert app.test_cli_runner().invoke(args=["docs", "errors", "--check"]).exit_code == 0


def test_the_readme_is_short_and_links_every_doc():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    for doc in sorted((ROOT / "docs").rglob("*.md")):
        if doc.name not in {"chat.md", "operations.md"}:  # other work links its own
            assert str(doc.relative_to(ROOT)) in readme, f"README does not link {doc.relative_to(ROOT)}"


def _gunicorn_conf(monkeypatch, timeout=None):
    """gunicorn.conf.py loaded as gunicorn loads it, with DB_STATEMENT_TIMEOUT_MS `timeout` (None: unset). It gives
    the web processes a statement timeout through the environment: what it sets is taken away when the test ends,
    or the app every later test of this process makes would cancel its slow statements."""
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "0")  # remembered as it was before, for the test's end
    if timeout is None:
        monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS")
    else:
        monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", timeout)
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_a_gunicorn_worker_hides_what_it_loaded_from_the_garbage_collector(monkeypatch):
    """A full collection of a loaded worker's objects stopped it for about 100 ms; once frozen, they are
    not scanned again."""
    import gc

    conf = _gunicorn_conf(monkeypatch)
    before = gc.get_freeze_count()
    try:
        conf.post_worker_init(None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_web_processes_bound_each_statement_unless_told_otherwise(monkeypatch):
    """gunicorn.conf.py gives the web processes a statement timeout (the workers and commands keep none)."""
    _gunicorn_conf(monkeypatch)
    assert os.environ["DB_STATEMENT_TIMEOUT_MS"] == "1500"
    _gunicorn_conf(monkeypatch, "800")
    assert os.environ["DB_STATEMENT_TIMEOUT_MS"] == "800"
