"""Helpers shared by the tests."""
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def recreate_database(server_url, name):
    """Drop and create database `name` on the server of `server_url` (psycopg URL form)."""
    url = make_url(server_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


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

    from casting.jobs import TracedJob, get_queue

    with app.app_context():
        queues = [get_queue(name) for name in app.config["RQ_QUEUES"]]
        SimpleWorker(queues, connection=queues[0].connection, job_class=TracedJob).work(burst=True)
