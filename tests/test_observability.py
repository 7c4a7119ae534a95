"""Prometheus metrics, slow-query logs and OpenTelemetry traces."""
import logging
import os
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import text

from casting.kernel.extensions import db


def test_metrics_count_requests_per_route_and_status(client):
    client.get("/api/health")
    client.get("/api/health")
    client.get("/api/nope")
    body = client.get("/metrics").get_data(as_text=True)
    health = [line for line in body.splitlines()
              if line.startswith('http_requests_total{method="GET",route="/api/health",status="200"}')]
    assert health and float(health[0].split()[-1]) >= 2
    assert 'route="<unmatched>",status="404"' in body
    assert "http_request_duration_seconds_bucket" in body
    assert "db_pool_size " in body
    assert 'rq_queue_depth{queue="high"} 0.0' in body


def test_queue_depth_counts_waiting_jobs(app, client):
    from casting.kernel.jobs import enqueue

    with app.test_request_context():
        enqueue("low", "math.factorial", 3)
        enqueue("low", "math.factorial", 4)
    assert 'rq_queue_depth{queue="low"} 2.0' in client.get("/metrics").get_data(as_text=True)


def test_metrics_token_is_enforced_when_set(make_app):
    client = make_app(METRICS_TOKEN="scrape-secret").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200


def test_slow_queries_are_logged_with_the_request_id(app, caplog):
    with caplog.at_level(logging.WARNING, logger="casting.db"):
        with app.test_request_context(headers={"X-Request-ID": "slow-1"}):
            db.session.execute(text("SELECT pg_sleep(0.12)"))
            db.session.execute(text("SELECT 1"))
    slow = [record for record in caplog.records if record.message == "slow query"]
    assert len(slow) == 1
    assert slow[0].request_id == "slow-1"
    assert "pg_sleep" in slow[0].statement and slow[0].duration_ms >= 100


class _Collector(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_otlp_traces_cover_flask_sqlalchemy_and_redis(server_urls):
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    script = textwrap.dedent("""
        from opentelemetry import trace
        from rq import SimpleWorker
        from casting import create_app
        from casting.kernel.jobs import TracedJob, enqueue, get_queue
        app = create_app()
        client = app.test_client()
        assert client.get("/api/health/ready").status_code == 200
        with app.test_request_context(), trace.get_tracer("test").start_as_current_span("enqueuing"):
            enqueue("high", "math.factorial", 4)
            queue = get_queue("high")
            SimpleWorker([queue], connection=queue.connection, job_class=TracedJob).work(burst=True)
        trace.get_tracer_provider().force_flush()
    """)
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": server_urls["database"],
           "REDIS_URL": server_urls["redis"], "OTEL_SERVICE_NAME": "casting-test",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}"}
    try:
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                             timeout=60)
    finally:
        collector.shutdown()
    assert run.returncode == 0, run.stderr
    assert {path for path, _, _ in _Collector.received} == {"/v1/traces"}
    assert _Collector.received[0][1] == "application/x-protobuf"
    received = [(span, scope.scope.name) for _, _, body in _Collector.received
                for resource in ExportTraceServiceRequest.FromString(body).resource_spans
                for scope in resource.scope_spans for span in scope.spans]
    spans = {span.name: scope for span, scope in received}
    assert spans.get("GET /api/health/ready") == "opentelemetry.instrumentation.flask"
    assert "opentelemetry.instrumentation.sqlalchemy" in spans.values(), spans
    assert spans.get("PING") == "opentelemetry.instrumentation.redis", spans
    by_name = {span.name: span for span, _ in received}
    job, parent = by_name["rq math.factorial"], by_name["enqueuing"]
    assert job.trace_id == parent.trace_id and job.parent_span_id == parent.span_id


def test_tracing_stays_off_without_an_endpoint(monkeypatch):
    from casting.kernel.observability import tracing_requested

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not tracing_requested()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert tracing_requested()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not tracing_requested()
