"""The routes the benchmark drives; later features append theirs to APP_ROUTES."""
import json
import os
import time
from dataclasses import dataclass
from typing import Callable

import requests

from casting.seeding import DEMO_PASSWORD

DEMO_LOGIN = {"identifier": "talent1@demo.casting.in", "password": DEMO_PASSWORD}
ADMIN_LOGIN = {"identifier": "admin1@demo.casting.in", "password": DEMO_PASSWORD}
DIRECTOR_LOGIN = {"identifier": "casting.director1@demo.casting.in", "password": DEMO_PASSWORD}
AGENT_LOGIN = {"identifier": "agent1@demo.casting.in", "password": DEMO_PASSWORD}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    method: str = "GET"
    body: str = ""
    expect: int = 200
    authorization: Callable[[str], str] | None = None  # base URL -> Authorization header value
    vary: bool = False  # fill `{a}`/`{h}` in the body per request (see report.lua): defeats the cache
    cold: bool = False  # also time the very first request (before anything is cached)
    sequence_from: int = 1  # the first `{n}` of a varied body (see report.lua)


def admitted(method, url, **kwargs):
    """A request sent again while the service answers 503 (the previous route's last requests may still
    fill its admission queue), after the `Retry-After` it gives; at most ten tries."""
    for _ in range(10):
        response = requests.request(method, url, **kwargs)
        if response.status_code != 503:
            break
        time.sleep(float(response.headers.get("Retry-After", 1)))
    return response


def _bearer(base, login):
    response = admitted("POST", base + "/api/auth/login", json=login, timeout=30)
    response.raise_for_status()
    return "Bearer " + response.json()["access_token"]


def demo_bearer(base):
    """Sign a seeded demo talent in once; the token outlives a run."""
    return _bearer(base, DEMO_LOGIN)


def admin_bearer(base):
    """Sign the seeded demo admin in (admins may edit any profile)."""
    return _bearer(base, ADMIN_LOGIN)


def director_bearer(base):
    """Sign in the demo casting director who owns the demo productions."""
    return _bearer(base, DIRECTOR_LOGIN)


APP_ROUTES = [
    Route("GET /api/health", "/api/health"),
    Route("GET /api/health/ready", "/api/health/ready"),
    Route("GET /api/openapi.json", "/api/openapi.json"),
    Route("GET /api/nope (404 envelope)", "/api/nope", expect=404),
    Route("POST /api/auth/login (argon2id)", "/api/auth/login", method="POST", body=json.dumps(DEMO_LOGIN)),
    Route("GET /api/auth/me", "/api/auth/me", authorization=demo_bearer),
    Route("GET /api/talents/ (page 1)", "/api/talents/", authorization=demo_bearer),
    Route("GET /api/talents/?city=Mumbai&skills=Acting,Dancing", "/api/talents/?city=Mumbai&skills=Acting,Dancing",
          authorization=demo_bearer),
    Route("POST /api/talents/search (q, typo; cached)", "/api/talents/search", method="POST",
          body=json.dumps({"q": "Viswanatan", "city": "Mumbai"}), authorization=demo_bearer),
    # Uncached: new filters with every request (see report.lua), so the database answers each one.
    Route("POST /api/talents/search (seed filters, new each time: uncached)", "/api/talents/search",
          method="POST", vary=True, authorization=demo_bearer,
          body='{"city": "Mumbai", "skills": ["Acting", "Dancing"], "availability_status": "available", '
               '"age_min": {a}, "height_min": {h}}'),
    Route("POST /api/talents/search (q, typo, new each time: uncached)", "/api/talents/search", method="POST",
          vary=True, authorization=demo_bearer, body='{"q": "Viswanatan", "age_min": {a}, "height_min": {h}}'),
    Route("GET /api/talents/?q= (two words, typos, new each time: uncached)",
          "/api/talents/?q=Nandani%20Jayaraman&age_min={a}&height_min={h}", vary=True, authorization=demo_bearer),
    Route("POST /api/talents/search (city, gender, Marathi:fluent, available, age; uncached)", "/api/talents/search",
          method="POST", vary=True, authorization=demo_bearer,
          body='{"city": "Pune", "gender": "female", "languages": ["Marathi:fluent"], '
               '"availability_status": "available", "age_min": {a}, "height_min": {h}}'),
    Route("GET /api/talents/?skills, languages, gender, age (uncached)",
          "/api/talents/?skills=Acting&languages=Hindi&gender=male&age_min={a}&height_min={h}", vary=True,
          authorization=demo_bearer),
    Route("GET /api/talents/?gender, available, age (broad: bounded total; uncached)",
          "/api/talents/?gender=female&availability_status=available&age_min={a}&height_min={h}", vary=True,
          authorization=demo_bearer),
    Route("GET /api/talents/featured", "/api/talents/featured", authorization=demo_bearer),
    Route("GET /api/talents/{id}", "/api/talents/1", authorization=demo_bearer),
    Route("GET /api/talents/me", "/api/talents/me", authorization=demo_bearer),
    Route("PUT /api/talents/{id} (admin)", "/api/talents/2", method="PUT",
          body=json.dumps({"availability_status": "available", "day_rate_inr": 15000}), authorization=admin_bearer),
    # The row above is the same save again and again (after the first, it changes nothing); this one writes:
    # a new day rate with every request (`{n}`, see report.lua), all on one row.
    Route("PUT /api/talents/{id} (admin, a new day rate each time)", "/api/talents/3", method="PUT", vary=True,
          body='{"day_rate_inr": {n}}', authorization=admin_bearer),
    Route("GET /api/meta/skills", "/api/meta/skills"),
    Route("GET /api/productions/{id}/roles/{id}/matches", "/api/productions/1/roles/1/matches",
          authorization=director_bearer, cold=True),
    Route("GET /api/productions/{id}/roles/{id}/matches (role 2)", "/api/productions/1/roles/2/matches",
          authorization=director_bearer, cold=True),
    Route("GET /api/productions/{id}/roles/{id}/matches (role 3, city required)",
          "/api/productions/2/roles/3/matches", authorization=director_bearer, cold=True),
]

REFERENCE_HELLO = Route("reference: JSON hello", "/hello")
REFERENCE_SELECT = Route("reference: select 1", "/select1")


def audition_routes(base):
    """Make an audition of the demo director's (production 1) with demo talent 1 invited; its routes.

    The lists run over what `flask seed auditions` made (BENCH_AUDITIONS): the demo director owns an
    eighth of them, the demo talent is invited to one in a hundred, the admin sees them all. The 500
    talent invited are new ones every run (the first request invites them all; the rest find them
    already invited)."""
    director, talent, admin = director_bearer(base), demo_bearer(base), admin_bearer(base)
    as_director, as_talent = {"Authorization": director}, {"Authorization": talent}
    own = requests.get(base + "/api/talents/me", headers=as_talent, timeout=30)
    if own.status_code == 404:
        own = requests.post(base + "/api/talents/", json={"stage_name": "Demo Talent One"}, headers=as_talent,
                            timeout=30)
    talent_id = own.json()["id"]
    audition = requests.post(base + "/api/auditions/", headers=as_director, timeout=30, json={
        "production_id": 1, "title": "Benchmark round", "mode": "in_person"}).json()["id"]
    requests.post(f"{base}/api/auditions/{audition}/schedule", headers=as_director, timeout=30, json={
        "start_at": "2027-01-10T10:00:00", "end_at": "2027-01-10T18:00:00", "slot_minutes": 10,
        "capacity_per_slot": 5}).raise_for_status()
    requests.post(f"{base}/api/auditions/{audition}/invite", headers=as_director, timeout=30,
                  json={"talent_ids": [talent_id]}).raise_for_status()
    runs = max(1, (int(os.environ.get("BENCH_TALENTS", "100000")) - 2000) // 500)
    first = 1000 + (audition % runs) * 500  # new (seeded) talent to invite every run
    return [
        Route("GET /api/auditions/ (casting director)", "/api/auditions/", authorization=lambda _: director),
        Route("GET /api/auditions/?date_from&date_to&sort=scheduled_date (casting director)",
              "/api/auditions/?date_from=2026-12-01&date_to=2027-02-28&sort=scheduled_date",
              authorization=lambda _: director),
        Route("GET /api/auditions/ (invited talent)", "/api/auditions/", authorization=lambda _: talent),
        Route("GET /api/auditions/{id} (invited talent)", f"/api/auditions/{audition}", authorization=lambda _: talent),
        Route("GET /api/auditions/?sort=-scheduled_date (admin: all)", "/api/auditions/?sort=-scheduled_date",
              authorization=lambda _: admin),
        Route("POST /api/auditions/{id}/rsvp (decline)", f"/api/auditions/{audition}/rsvp", method="POST",
              body=json.dumps({"response": "decline"}), authorization=lambda _: talent),
        Route("POST /api/auditions/{id}/invite (500 talent; then all already invited)",
              f"/api/auditions/{audition}/invite", method="POST", expect=202, cold=True,
              body=json.dumps({"talent_ids": list(range(first, first + 500))}), authorization=lambda _: director),
    ]


def calls_routes(base):
    """Casting calls over the seeded 100,000 open calls: roles for me (demo talent 1's seeded profile), the
    seeded 10,000 submissions of the demo call for Young Radha, and a burst of submissions to a new call
    (the demo agent submits seeded talent it represents, a new one each request), then the same call
    after its deadline."""
    import time
    from datetime import datetime, timedelta, timezone

    director, talent, agent = director_bearer(base), demo_bearer(base), _bearer(base, AGENT_LOGIN)
    as_director = {"Authorization": director}
    radha = requests.get(base + "/api/calls/?mine=true&q=young radha", headers=as_director,
                         timeout=30).json()["items"][0]["id"]

    def new_call(name, seconds):
        role = requests.post(base + "/api/productions/1/roles", headers=as_director, timeout=30,
                             json={"name": name}).json()["id"]
        deadline = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()
        made = requests.post(base + "/api/calls/", headers=as_director, timeout=30, json={
            "role_id": role, "deadline": deadline, "requires_headshot": False})
        made.raise_for_status()
        return made.json()["id"]

    stamp = int(time.time())
    burst, passed = new_call(f"Burst {stamp}", 3600), new_call(f"Closed {stamp}", 2)
    time.sleep(2.5)
    return [
        Route("GET /api/calls/for-me (100,000 open calls)", "/api/calls/for-me", authorization=lambda _: talent,
              cold=True),
        Route("GET /api/calls/{id}/submissions (10,000; best match)",
              f"/api/calls/{radha}/submissions?sort=-match_score", authorization=lambda _: director, cold=True),
        Route("GET /api/calls/{id}/submissions (10,000; shortlisted, newest)",
              f"/api/calls/{radha}/submissions?status=shortlisted", authorization=lambda _: director),
        Route("POST /api/calls/{id}/submissions (burst before a deadline; a new talent each time)",
              f"/api/calls/{burst}/submissions", method="POST", body='{"talent_id": {n}}', vary=True, expect=201,
              sequence_from=1000, authorization=lambda _: agent),
        Route("POST /api/calls/{id}/submissions (after the deadline: 409)", f"/api/calls/{passed}/submissions",
              method="POST", body='{"talent_id": 1000}', expect=409, authorization=lambda _: agent),
    ]
