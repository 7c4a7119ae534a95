"""Phone numbers (issue 20): parsed with Google's numbering plans, E.164 out, India by default, mobile numbers
where a message will be sent, and a 422 that says what is wrong, through the one shared field."""
import pytest

from tests.conftest import TEST_PASSWORD

ASHA = {"password": TEST_PASSWORD, "full_name": "Asha Rao", "role": "talent"}


def _field_errors(response):
    assert response.status_code == 422 and response.json["code"] == "VALIDATION_001"
    return response.json["details"]["fields"]


@pytest.mark.parametrize("written", ["0091 98765 43210", "098765 43210", "+91 98765 43210"])
def test_the_usual_ways_of_writing_an_indian_mobile_register_it_in_e164(client, written):
    response = client.post("/api/auth/register", json={**ASHA, "phone": written})
    assert response.status_code == 201 and response.json["user"]["phone"] == "+919876543210"


@pytest.mark.parametrize("written, says", [("+91 5876543210", "Not a mobile number"),
                                           ("+9100000000000", "Not a valid phone number"),
                                           ("98765 43210 ext 12", "Not a phone number")])
def test_a_landline_or_a_number_no_plan_has_is_a_422_saying_which(client, written, says):
    fields = _field_errors(client.post("/api/auth/register", json={**ASHA, "phone": written}))
    assert list(fields) == ["phone"] and fields["phone"][0].startswith(says)


@pytest.mark.parametrize("route", ["/api/auth/otp/send", "/api/auth/otp/verify"])
def test_codes_go_only_to_mobile_numbers(client, route):
    fields = _field_errors(client.post(route, json={"phone": "+91 5876543210", "code": "123456"}))
    assert fields["phone"][0].startswith("Not a mobile number")


def test_a_changed_phone_is_checked_the_same_way(client, login):
    headers = login("talent")
    fields = _field_errors(client.patch("/api/auth/me", json={"phone": "+9100000000000"}, headers=headers))
    assert fields["phone"][0].startswith("Not a valid phone number")


def test_signing_in_finds_the_account_whichever_way_the_phone_is_written(client):
    client.post("/api/auth/register", json={**ASHA, "phone": "+91 98765 43210"})
    response = client.post("/api/auth/login", json={"identifier": "0091 98765 43210", "password": TEST_PASSWORD})
    assert response.status_code == 200 and response.json["user"]["phone"] == "+919876543210"


def test_the_admin_cli_refuses_a_landline(runner):
    result = runner.invoke(args=["users", "create-admin", "--name", "Meera Nair", "--phone", "022 2345 6789",
                                 "--password", TEST_PASSWORD])
    assert result.exit_code == 1 and "Not a mobile number" in result.output


def test_every_phone_field_documents_what_it_takes(client):
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]
    phones = [props["phone"] for schema in schemas.values()
              for props in [schema.get("properties", {})] if "phone" in props and "phone_verified" not in props]
    assert len(phones) == 4  # register, OTP send and verify, the profile change
    assert all("E.164" in phone["description"] and phone["maxLength"] == 32 for phone in phones)
