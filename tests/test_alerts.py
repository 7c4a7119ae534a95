"""Escalation (issue 19, item 6): the Prometheus alerting rules in ops/ parse and fire on the series that
should raise them (promtool, from Debian's `prometheus` package: `make alert-tools`), and every metric
they read is one the service's /metrics really exports."""
import re
import shutil
import subprocess  # nosec B404
from pathlib import Path

import pytest
from rq import Worker

from tests.support import run_jobs
from tests.test_notifications import OTP, WHATSAPP_OK, _send, provider_app  # noqa: F401 - a fixture

OPS = Path(__file__).resolve().parent.parent / "ops"
# Prometheus' own series (the scrape itself), not the service's
PROMETHEUS_SERIES = {"up"}


def promtool(*args):
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make alert-tools` installs Debian's prometheus package"
    return subprocess.run([tool, *args], cwd=OPS, capture_output=True, text=True)  # nosec B603


def test_the_alerting_rules_parse():
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 11 rules found" in checked.stdout


def test_each_alert_fires_on_its_series_and_stays_quiet_on_healthy_ones():
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = set(re.findall(r"^\s+- alert: (\S+)", (OPS / "alerts.yml").read_text(), re.MULTILINE))
    fired = set(re.findall(r"^\s+alertname: (\S+)", (OPS / "alerts.test.yml").read_text(), re.MULTILINE))
    assert rules == fired  # no rule goes untested


def rule_metrics():
    """The metric names the rules' expressions select (a name followed by its `{` label matchers)."""
    text = (OPS / "alerts.yml").read_text()
    expressions = re.findall(r"expr: \|?\n?((?:.+\n)+?)\s+(?:for|labels):", text)
    return {name for expr in expressions for name in re.findall(r"\b([a-z_:][a-z0-9_:]*)\{", expr)} - {
        "by", "sum", "max", "rate", "delta", "histogram_quantile"}


def test_every_metric_the_rules_read_is_exported(provider_app, provider_server, redis_client):  # noqa: F811
    """A transient provider failure, then a send; a registered worker: /metrics has all the rules read."""
    provider_server.answer((500, {"error": {"message": "down"}}), WHATSAPP_OK)
    _send(provider_app, "otp", OTP)
    run_jobs(provider_app)
    with provider_app.app_context():
        worker = Worker(["default"], connection=redis_client)
        worker.register_birth()
        worker.heartbeat()
    client = provider_app.test_client()
    client.get("/api/health")
    body = client.get("/metrics").get_data(as_text=True)
    exported = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line and not line.startswith("#")}
    needed = rule_metrics() - PROMETHEUS_SERIES
    assert {"dependency_up", "rq_workers", "notification_deliveries_total",
            "http_request_duration_seconds_bucket"} <= needed
    assert needed <= exported, needed - exported
    assert 'dependency_up{dependency="database"} 1.0' in body and 'dependency_up{dependency="redis"} 1.0' in body
    assert 'notification_deliveries_total{outcome="transient_error",provider="whatsapp_cloud"} 1.0' in body
    assert 'notification_deliveries_total{outcome="sent",provider="whatsapp_cloud"} 1.0' in body
    assert 'rq_workers{queue="default"} 1.0' in body and 'rq_workers{queue="high"} 0.0' in body
    age = next(line for line in body.splitlines() if line.startswith("rq_worker_heartbeat_age_seconds "))
    assert 0 <= float(age.split()[-1]) < 60


def test_a_waiting_job_reports_its_age_and_no_worker_reports_none(app, client):
    from casting.kernel.jobs import enqueue

    body = client.get("/metrics").get_data(as_text=True)
    assert 'rq_queue_oldest_job_age_seconds{queue="low"} 0.0' in body
    assert "rq_worker_heartbeat_age_seconds -1.0" in body and 'rq_workers{queue="default"} 0.0' in body
    with app.test_request_context():
        enqueue("low", "math.factorial", 3)
    body = client.get("/metrics").get_data(as_text=True)
    age = next(line for line in body.splitlines() if line.startswith('rq_queue_oldest_job_age_seconds{queue="low"}'))
    assert 0 < float(age.split()[-1]) < 60


@pytest.mark.timeout(60)
def test_an_unreachable_redis_is_reported_down_not_a_failed_scrape(make_app):
    """The scrape answers with dependency_up 0 for Redis, so RedisUnreachable fires (not only `up`)."""
    client = make_app(REDIS_URL="redis://127.0.0.1:9/0").test_client()
    response = client.get("/metrics")
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    assert 'dependency_up{dependency="redis"} 0.0' in body and 'dependency_up{dependency="database"} 1.0' in body
