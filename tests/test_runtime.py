"""The runtime the house plan sets: gevent first, Socket.IO on gevent with the Redis queue, no eventlet."""
import importlib.util
import re
from pathlib import Path

from casting.errors import CATALOGUE
from casting.extensions import socketio

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

    probe = ("import sys, casting.embedded; "
             "print(sorted(m for m in ('flask', 'ssl', 'redis', 'prometheus_client') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_eventlet_is_not_installed():
    assert importlib.util.find_spec("eventlet") is None


def test_procfile_runs_release_web_and_worker():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert procfile == {"release": "flask db upgrade", "web": "gunicorn -c gunicorn.conf.py wsgi:app",
                        "worker": "flask worker"}


def test_readme_documents_every_setting_and_error_code():
    readme = (ROOT / "README.md").read_text()
    sources = (ROOT / "config.py").read_text() + (ROOT / "gunicorn.conf.py").read_text()
    settings = set(re.findall(r'_(?:str|int|bool|list)\(\s*"([A-Z_]+)"', sources))
    settings |= set(re.findall(r'os\.environ(?:\.get|\.setdefault)?\(\s*"([A-Z_]+)"', sources))
    assert len(settings) > 20
    for name in settings:
        assert f"`{name}`" in readme, f"README does not document {name}"
    for error in CATALOGUE:
        assert f"| `{error.code}` | {error.status} |" in readme, f"README lacks {error.code}"
