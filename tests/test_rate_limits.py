"""Rate limits (issue 20): per signed-in user (anonymous callers per IP), per route where the default does not
fit, and the caller's standing in standard `RateLimit-*` headers on every answer the limit counts."""
import time

import pytest

from casting.users.services import create_user
import config as settings
from tests.conftest import TEST_PASSWORD

ME = "/api/auth/me"
DOC = "/api/openapi.json"


def _sign_in(app, client, email):
    with app.app_context():
        create_user("Someone", "talent", password=TEST_PASSWORD, email=email)
    token = client.post("/api/auth/login", json={"identifier": email, "password": TEST_PASSWORD}).json
    return {"Authorization": f"Bearer {token['access_token']}"}


def _standing(response):
    return {name: response.headers.get(f"RateLimit-{name}") for name in ("Limit", "Remaining", "Reset", "Policy")}


def test_two_users_behind_one_ip_are_limited_separately_and_apart_from_anonymous_callers(make_app, redis_client):
    app = make_app(RATELIMIT_DEFAULT="3/minute")
    client = app.test_client()  # every request comes from 127.0.0.1: one carrier IP for all
    asha, ravi = _sign_in(app, client, "asha@example.in"), _sign_in(app, client, "ravi@example.in")
    assert [client.get(ME, headers=asha).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [client.get(ME, headers=ravi).status_code for _ in range(3)] == [200, 200, 200]
    # an anonymous caller on the same IP has its own budget (and gets its 401, not a 429)
    assert client.get(ME).status_code == 401
    user_keys = redis_client.keys("LIMITS:LIMITER/casting:limits/user:*/auth.MeViews/3/1/minute")
    assert len(user_keys) == 2
    assert redis_client.keys("LIMITS:LIMITER/casting:limits/127.0.0.1/auth.MeViews/3/1/minute")


def test_a_token_that_does_not_verify_is_counted_per_ip_not_per_the_user_it_names(make_app):
    app = make_app(RATELIMIT_DEFAULT="2/minute")
    client = app.test_client()
    asha = _sign_in(app, client, "asha@example.in")
    forged = {"Authorization": asha["Authorization"][:-4] + "AAAA"}
    assert [client.get(ME, headers=forged).status_code for _ in range(3)] == [401, 401, 429]
    assert client.get(ME, headers=asha).status_code == 200  # the user's own budget is untouched


def test_every_counted_answer_says_where_the_caller_stands_and_the_remainder_decreases(make_app):
    client = make_app(RATELIMIT_DEFAULT="5/minute").test_client()
    answers = [client.get(DOC) for _ in range(3)]
    assert [_standing(answer)["Remaining"] for answer in answers] == ["4", "3", "2"]
    for answer in answers:
        standing = _standing(answer)
        assert standing["Limit"] == "5" and standing["Policy"] == "5;w=60"
        assert 1 <= int(standing["Reset"]) <= 60
    # errors the limit counted carry them too (a 401 here), exempt routes do not
    assert _standing(client.get(ME))["Limit"] == "5"
    assert _standing(client.get("/api/health"))["Limit"] is None


def test_over_the_limit_is_a_429_envelope_with_retry_after_and_nothing_left(make_app):
    client = make_app(RATELIMIT_DEFAULT="2/minute").test_client()
    client.get(DOC)
    client.get(DOC)
    refused = client.get(DOC)
    assert refused.status_code == 429
    assert refused.json["code"] == "RATE_001" and refused.json["requestId"] == refused.headers["X-Request-ID"]
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert _standing(refused) == {"Limit": "2", "Remaining": "0", "Reset": str(retry), "Policy": "2;w=60"}


def test_requests_that_left_the_window_free_the_budget_again(make_app):
    client = make_app(RATELIMIT_DEFAULT="2/second").test_client()
    assert [client.get(DOC).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(1.1)
    answer = client.get(DOC)
    assert answer.status_code == 200 and _standing(answer)["Remaining"] == "1"


def test_sign_in_has_its_own_budget_per_ip(make_app):
    app = make_app(RATELIMIT_SIGN_IN="2/minute", RATELIMIT_DEFAULT="100/minute")
    client = app.test_client()
    body = {"identifier": "nobody@example.in", "password": "not the password at all"}
    answers = [client.post("/api/auth/login", json=body) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401, 401, 429]
    assert _standing(answers[0])["Limit"] == "2" and answers[2].json["code"] == "RATE_001"
    assert client.get(DOC).status_code == 200 and _standing(client.get(DOC))["Limit"] == "100"


def test_search_has_its_own_budget_per_user_beside_the_list(make_app):
    app = make_app(RATELIMIT_SEARCH="2/minute", RATELIMIT_DEFAULT="100/minute")
    client = app.test_client()
    headers = _sign_in(app, client, "casting@example.in")
    statuses = [client.post("/api/talents/search", json={}, headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    listing = client.get("/api/talents/", headers=headers)
    assert listing.status_code == 200 and _standing(listing)["Limit"] == "100"


def test_the_openapi_document_names_each_route_s_own_limit(client):
    paths = client.get(DOC).json["paths"]
    assert "`RATELIMIT_SEARCH`" in paths["/api/talents/search"]["post"]["description"]
    assert "cosine" in paths["/api/talents/search"]["post"]["description"]  # the docstring's text is kept
    assert "`RATELIMIT_SIGN_IN`" in paths["/api/auth/login"]["post"]["description"]
    assert "`RATELIMIT_UPLOAD`" in paths["/api/attachments"]["post"]["description"]
    assert "RATELIMIT_" not in paths["/api/auth/me"]["get"].get("description", "")


def test_browsers_may_read_the_rate_limit_headers(make_app):
    client = make_app(CORS_ORIGINS=["https://app.casting.in"]).test_client()
    answer = client.get(DOC, headers={"Origin": "https://app.casting.in"})
    exposed = answer.headers["Access-Control-Expose-Headers"]
    assert all(name in exposed for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"))


@pytest.mark.parametrize("value", ["lots", "10/minute;100/hour", ""])
def test_a_limit_setting_that_is_not_one_limit_refuses_to_start(value):
    config = settings.TestConfig()
    config.RATELIMIT_SEARCH = value
    with pytest.raises(RuntimeError, match="RATELIMIT_SEARCH"):
        config.validate()
