"""Helpers shared by the tests."""
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import psycopg
import redis
from psycopg import sql
from sqlalchemy import event
from sqlalchemy.engine import make_url

from tests.tcp_proxy import pump


class Counted:
    """Counts the times SQLAlchemy's `target` fires the event `name` while it is active."""

    def __init__(self, target, name):
        self.target, self.name, self.count = target, name, 0

    def _seen(self, *args):
        self.count += 1

    def __enter__(self):
        event.listen(self.target, self.name, self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(self.target, self.name, self._seen)


class Statements(Counted):
    """Counts the SQL statements the app sends while it is active."""

    def __init__(self, engine):
        super().__init__(engine, "before_cursor_execute")


def recreate_database(server_url, name):
    """Drop and create database `name` on the server of `server_url` (psycopg URL form)."""
    url = make_url(server_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def skip_durability(server_url):
    """The embedded test server's data is thrown away: no fsync, so a checkpoint never waits on the disk.

    Every TRUNCATE between tests makes new relation files; with fsync on, a checkpoint syncs tens of
    thousands of them and a shutdown waits minutes on a busy disk."""
    url = make_url(server_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        for name, value in (("fsync", "off"), ("synchronous_commit", "off"), ("full_page_writes", "off")):
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")


class RecordingServer:
    """A local HTTP server standing in for a provider: it records requests and plays scripted answers."""

    def __init__(self):
        self.requests = []
        self.answers = []
        self.default = (200, {})
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(Recorded(self.command, self.path, dict(self.headers),
                                                self.rfile.read(length)))
                status, body = server.answers.pop(0) if server.answers else server.default
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, *answers):
        """Queue (status, json body) answers, used in order; then the default answer."""
        self.answers.extend(answers)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self):
        return dict(parse_qsl(self.body.decode()))


def run_jobs(app):
    """Run every queued job in a real RQ worker (in this process) until the queues are empty."""
    from rq import SimpleWorker

    from casting.kernel.jobs import TracedJob, get_queue

    with app.app_context():
        queues = [get_queue(name) for name in app.config["RQ_QUEUES"]]
        SimpleWorker(queues, connection=queues[0].connection, job_class=TracedJob).work(burst=True)


def self_signed_certificate(folder):
    """A self-signed certificate for 127.0.0.1, as managed Redis presents: (cert path, key path)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "redis.crt", folder / "redis.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TlsProxy:
    """TLS in front of a plain TCP server on loopback (managed Redis speaks only TLS): a real handshake."""

    def __init__(self, target_host, target_port, cert_path, key_path):
        import socket
        import ssl

        self.target = (target_host, target_port)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_path, key_path)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import ssl

        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                secure = self.context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                client.close()  # the client refused our certificate
                continue
            upstream = socket.create_connection(self.target)
            for source, sink in ((secure, upstream), (upstream, secure)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()

    def close(self):
        self.closed = True
        self.listener.close()


def redis_round_trips(app, send):
    """(response, the commands `send()` sent Redis itself: a script's own commands are not round trips)."""
    seen, end = [], "end-of-request"
    with redis.Redis.from_url(app.config["REDIS_URL"]).monitor() as monitor:
        def collect():
            for command in monitor.listen():
                if end in command["command"]:
                    return
                seen.append(command)

        watching = threading.Thread(target=collect)
        watching.start()
        response = send()
        redis.Redis.from_url(app.config["REDIS_URL"]).echo(end)
        watching.join(10)
    return response, [command["command"].split()[0] for command in seen
                      if command["client_type"] != "lua" and not command["command"].startswith(("SELECT", "ECHO"))]


def slowed(monkeypatch, module, name, seconds=0.3):
    """Make `module.name` take `seconds` longer (so concurrent callers overlap); returns the list it
    appends to on each call."""
    ran, original = [], getattr(module, name)

    def slow(*args, **kwargs):
        ran.append(1)
        time.sleep(seconds)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)
    return ran
