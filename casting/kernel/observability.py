"""Prometheus metrics, slow-query logging and OpenTelemetry tracing."""
import hmac
import logging
import os
import time

from flask import Response, current_app, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Histogram, generate_latest, multiprocess)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import event

from casting.kernel.errors import ApiError, Codes
from casting.kernel.web import redact

log = logging.getLogger("casting.db")

REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(.005, .01, .025, .05, .1, .2, .25, .5, 1, 2, 2.5, 5, 10))  # 0.2 and 0.5: the p99 goals


DELIVERIES_KEY = "casting:metrics:deliveries"  # a Redis hash `provider|outcome` -> count, shared by every worker


def count_delivery(provider, outcome):
    """Count one provider call by outcome, in Redis: RQ workers run on other hosts and fork a work horse per
    job, so no process of theirs is scraped; the web's /metrics reads the totals. Never fails a delivery."""
    from redis.exceptions import RedisError

    from casting.kernel.extensions import redis

    try:
        redis.hincrby(DELIVERIES_KEY, f"{provider}|{outcome}", 1)
    except RedisError:
        log.warning("delivery count not recorded: Redis unreachable")


def _gauge(name, documentation, value):
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge


class PoolAndQueueCollector:
    """Read at scrape time: this process's SQLAlchemy pool; whether PostgreSQL and Redis answer; and, from
    Redis, the RQ queues (depth, oldest job's age, failed jobs), the live workers and their last heartbeat,
    and the provider calls by outcome. A dependency that does not answer is reported down, never a failed
    scrape."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from redis.exceptions import RedisError
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from casting.kernel.extensions import db, queue_redis, redis

        with self.app.app_context():
            pool = db.engine.pool
            for name, value in (("size", pool.size()), ("checked_out", pool.checkedout()),
                                ("checked_in", pool.checkedin()), ("overflow", max(pool.overflow(), 0))):
                yield _gauge(f"db_pool_{name}", f"SQLAlchemy pool {name}", value)
            up = GaugeMetricFamily("dependency_up", "1 when the dependency answered this scrape's probe, else 0",
                                   labels=["dependency"])
            try:
                with db.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                up.add_metric(["database"], 1)
            except SQLAlchemyError:
                up.add_metric(["database"], 0)
            try:
                redis.ping()
                up.add_metric(["redis"], 1)
                yield up
                yield from self._from_redis(queue_redis, redis)
            except RedisError:
                up.add_metric(["redis"], 0)
                yield up

    def _from_redis(self, queues, connection):
        """RQ's figures from the queues' Redis (QUEUE_REDIS_URL), the provider counts from the app's."""
        from rq import Queue, Worker

        depth = GaugeMetricFamily("rq_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
        oldest = GaugeMetricFamily("rq_queue_oldest_job_age_seconds",
                                   "How long the job at the head of the queue has waited (0 when empty)",
                                   labels=["queue"])
        failed = GaugeMetricFamily("rq_failed_jobs", "Jobs in the queue's failed registry", labels=["queue"])
        listening = GaugeMetricFamily("rq_workers", "Live RQ workers listening on the queue", labels=["queue"])
        now = time.time()
        workers = Worker.all(connection=queues)
        for name in self.app.config["RQ_QUEUES"]:
            queue = Queue(name, connection=queues)
            depth.add_metric([name], queue.count)
            head = queue.get_jobs(0, 1)
            enqueued = head[0].enqueued_at if head and head[0].enqueued_at else None
            oldest.add_metric([name], max(now - enqueued.timestamp(), 0) if enqueued else 0)
            failed.add_metric([name], queue.failed_job_registry.count)
            listening.add_metric([name], sum(name in worker.queue_names() for worker in workers))
        yield from (depth, oldest, failed, listening)
        beats = [worker.last_heartbeat.timestamp() for worker in workers if worker.last_heartbeat]
        yield _gauge("rq_worker_heartbeat_age_seconds",
                     "Seconds since the most recent heartbeat of any RQ worker (-1 when none is registered)",
                     now - max(beats) if beats else -1)
        deliveries = CounterMetricFamily("notification_deliveries", "Provider calls by provider and outcome",
                                         labels=["provider", "outcome"])
        for field, count in connection.hgetall(DELIVERIES_KEY).items():
            provider, _, outcome = field.decode().partition("|")
            deliveries.add_metric([provider, outcome], int(count))
        yield deliveries


def _route_label():
    return request.url_rule.rule if request.url_rule else "<unmatched>"


_children = {}  # (metric, labels) -> its child: `labels()` takes a lock and builds a key per call


def _child(metric, *labels):
    found = _children.get((metric, labels))
    if found is None:
        found = _children[(metric, labels)] = metric.labels(*labels)
    return found


def record_request(response):
    started = g.get("started_at")
    route = _route_label()
    if started is not None:
        _child(LATENCY, request.method, route).observe(time.perf_counter() - started)
    _child(REQUESTS, request.method, route, response.status_code).inc()
    return response


def record_refusal(method):
    """A request that admission control refused (503 SERVER_003): counted like any answer, under `<busy>`."""
    REQUESTS.labels(method, "<busy>", 503).inc()


def metrics_view():
    """Serve the Prometheus metrics (all processes' when PROMETHEUS_MULTIPROC_DIR is set)."""
    token = current_app.config["METRICS_TOKEN"]
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        raise ApiError(Codes.AUTH_MISSING)
    counters = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    live = CollectorRegistry()
    live.register(PoolAndQueueCollector(current_app._get_current_object()))
    return Response(generate_latest(counters) + generate_latest(live), mimetype=CONTENT_TYPE_LATEST)


def log_slow_queries(engine, threshold_ms):
    """Log every statement slower than `threshold_ms` (its text, never its parameters)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("query_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _finish(conn, cursor, statement, parameters, context, executemany):
        note_statement(statement, (time.perf_counter() - conn.info["query_started"].pop()) * 1000, threshold_ms)


def note_statement(statement, elapsed_ms, threshold_ms):
    """Log `statement` (its text, never its parameters) when it took `threshold_ms` or more."""
    if elapsed_ms >= threshold_ms:
        log.warning("slow query", extra={"duration_ms": round(elapsed_ms, 1), "statement": statement[:2000]})


def tracing_requested():
    """True when an OTLP endpoint is configured and tracing is not switched off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp") == "none":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _redact_span(span, status, headers):
    """A request's span keeps no secret path part (`http.target`, `http.url`, `url.path`, ...).

    A response hook: the instrumentation sets the request's attributes again after its request hook.
    """
    if not span.is_recording():
        return
    for name, value in dict(span.attributes or {}).items():
        if isinstance(value, str) and redact(value) != value:
            span.set_attribute(name, redact(value))


def _scrubbed(span):
    """`span` without error messages (PostgreSQL's can quote a query's values): types and frames stay."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Status

    def event(item):
        if item.name != "exception":
            return item
        attributes = dict(item.attributes or {})
        attributes.pop("exception.message", None)
        stack = attributes.pop("exception.stacktrace", "")
        attributes["exception.stacktrace"] = "\n".join(line for line in stack.splitlines() if line.startswith(" "))
        return Event(item.name, attributes, item.timestamp)

    status = Status(span.status.status_code) if span.status.description else span.status
    return ReadableSpan(name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                        attributes=span.attributes, events=[event(item) for item in span.events], links=span.links,
                        kind=span.kind, status=status, start_time=span.start_time, end_time=span.end_time,
                        instrumentation_scope=span.instrumentation_scope)


def _scrubbing(exporter):
    """An exporter that sends every span through `_scrubbed` first."""
    from opentelemetry.sdk.trace.export import SpanExporter

    class Scrubbing(SpanExporter):
        def export(self, spans):
            return exporter.export([_scrubbed(span) for span in spans])

        def shutdown(self):
            return exporter.shutdown()

        def force_flush(self, timeout_millis=30000):
            return exporter.force_flush(timeout_millis)

    return Scrubbing()


def configure_tracing(app, engine):
    """Trace Flask, SQLAlchemy and Redis with OTLP/HTTP when the standard OTEL_* variables ask for it."""
    if not tracing_requested():
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get(
        "OTEL_SERVICE_NAME", "casting-api")}))
    provider.add_span_processor(BatchSpanProcessor(_scrubbing(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider, response_hook=_redact_span,
                                       excluded_urls="/api/health$,/metrics")
    SQLAlchemyInstrumentor().instrument(engine=engine, tracer_provider=provider)
    app.extensions["casting_traced"] = True  # `at_once` then runs its statements through SQLAlchemy too
    RedisInstrumentor().instrument(tracer_provider=provider)
    return provider


def register_observability(app):
    app.after_request(record_request)
    app.add_url_rule("/metrics", "metrics", metrics_view)
