"""gunicorn settings, read from the environment (PORT, WEB_CONCURRENCY, ...)."""
import os
import shutil
from pathlib import Path

bind = "0.0.0.0:" + os.environ.get("PORT", "5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gevent's worker, taking new connections only while it holds no more than the least busy worker (+1)
worker_class = "casting.kernel.balancing.BalancedGeventWorker"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # the app writes one JSON line per request
errorlog = "-"
# A web request's statement that runs (or waits for a lock) past this is cancelled and answered 503 SERVER_003
# (config.py): an explicit answer the client may retry (a gevent worker's `timeout` never ends a waiting request).
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "1500")


def on_starting(server):
    """Attach the embedded servers once, in the master, so every worker shares them."""
    from casting.kernel.embedded import resolve_urls
    from config import load_config

    config = load_config()
    config.validate()  # production refuses to start here, before any embedded server would
    settings = {"DATABASE_URL": config.DATABASE_URL, "REDIS_URL": config.REDIS_URL,
                "INSTANCE_PATH": config.INSTANCE_PATH}
    resolve_urls(settings)
    os.environ["DATABASE_URL"] = settings["DATABASE_URL"]
    os.environ["REDIS_URL"] = settings["REDIS_URL"]
    metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                                             str(Path(config.INSTANCE_PATH) / "prometheus")))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)


def pre_fork(server, worker):
    """Give the worker its row in the table of open connections the workers share (casting.kernel.balancing)."""
    from casting.kernel import balancing

    worker.slot = balancing.claim()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    from casting.kernel import balancing

    multiprocess.mark_process_dead(worker.pid)
    if getattr(worker, "slot", None) is not None:
        balancing.release(worker.slot)


def post_request(worker, req, environ, resp):
    """Yield to the other connections after each request, so one keep-alive client cannot starve them."""
    import gevent

    gevent.sleep(0)


def post_worker_init(worker):
    """Once the worker has loaded the app, move everything made so far (modules, the app, its schemas and
    mappings: about 240,000 objects) out of the garbage collector's sight. A full collection scanned them
    all, about 100 ms in which the worker answered nobody: the long tail of every route's latency."""
    import gc

    gc.freeze()
