"""Schemathesis drives every route of the OpenAPI document in-process: no 5xx, answers as documented."""
import os

import schemathesis
from hypothesis import HealthCheck, settings

schema = schemathesis.pytest.from_fixture("api_schema")
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_route_keeps_its_contract(case):
    case.call_and_validate()
