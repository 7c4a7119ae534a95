"""Bulk talent export (NDJSON) for the ML service: complete, PII only by scope, audited, constant memory."""
import json
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from casting.audit.models import AuditEvent
from casting.auth import api_keys
from casting.exports import services
from casting.kernel.extensions import db
from casting.talents.seeding import seed_talents
from tests.test_talents import profile


@pytest.fixture
def keys(app):
    with app.app_context():
        return {scopes: {"X-API-Key": api_keys.create(f"key-{scopes}", scopes.split(","))[1]}
                for scopes in ("export", "export,pii", "ml")}


def export(client, headers, query=""):
    response = client.get(f"/api/export/talents{query}", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson", response.data[:300]
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_every_live_talent_exactly_once_in_id_order(app, client, keys, monkeypatch):
    monkeypatch.setattr(services, "BATCH", 7)  # many batches: the keyset paging is what is tested
    with app.app_context():
        seed_talents(50)
        db.session.execute(text("UPDATE talents SET deleted_at = now() WHERE id % 10 = 0"))
        db.session.commit()
    rows = export(client, keys["export"])
    assert [row["id"] for row in rows] == [n for n in range(1, 51) if n % 10]
    assert rows[0]["location"]["country"] == "India" and isinstance(rows[0]["skills"], list)
    assert all("date_of_birth" not in row and "email" not in row and "phone" not in row for row in rows)
    assert all(row["age"] > 0 for row in rows)


def test_pii_needs_its_scope_and_updated_since_filters(app, client, keys, login):
    me = login("talent", "kavya@example.in")
    own = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    with app.app_context():
        db.session.execute(text("UPDATE talents SET updated_at = now() - interval '3 days'"))
        db.session.commit()
    later = client.post("/api/talents/", json=profile(stage_name="New"), headers=login("agent")).json["id"]
    full = export(client, keys["export,pii"])
    assert full[0]["email"] == "kavya@example.in" and full[0]["date_of_birth"] == "1998-04-12"
    assert full[1]["email"] is None and [row["id"] for row in full] == [own, later]
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    assert [row["id"] for row in export(client, keys["export"], f"?updated_since={since.replace('+', '%2B')}")] == [
        later]
    assert client.get("/api/export/talents?updated_since=yesterday", headers=keys["export"]).status_code == 422
    assert [row["id"] for row in export(client, keys["ml"])] == [own, later]  # the ML service's key reads it too
    with app.app_context():
        pii_only = api_keys.create("key-pii", ["pii"])[1]
    assert client.get("/api/export/talents", headers={"X-API-Key": pii_only}).status_code == 403
    assert client.get("/api/export/talents", headers=me).json["code"] == "AUTH_013"
    with app.app_context():
        events = db.session.query(AuditEvent).filter_by(action="talent_export").all()
    assert len(events) == 3 and sorted(event.details["pii"] for event in events) == [False, False, True]


def _peak_while_exporting(app, client, headers, rows):
    with app.app_context():
        db.session.execute(text("TRUNCATE talents CASCADE"))
        db.session.commit()
        seed_talents(rows)
    tracemalloc.start()
    response = client.get("/api/export/talents", headers=headers, buffered=False)
    count = sum(chunk.count(b"\n") for chunk in response.response)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    response.close()
    assert count == rows
    return peak


def test_memory_stays_flat_whatever_the_size(app, client, keys, monkeypatch):
    monkeypatch.setattr(services, "BATCH", 100)
    small = _peak_while_exporting(app, client, keys["export"], 300)
    large = _peak_while_exporting(app, client, keys["export"], 3000)
    assert large < small * 1.5 + 200_000, (small, large)  # ten times the rows, about the same memory
