import pytest

from casting.users.services import UserError, normalise_email, normalise_phone


@pytest.mark.parametrize("raw", ["9876543210", "098765 43210", "+91 98765-43210", "919876543210",
                                 "(98765) 43210", "+919876543210", "0091 98765 43210", "+91 98765 43210",
                                 " 98765.43210 "])
def test_indian_numbers_normalise_to_e164(raw):
    assert normalise_phone(raw) == "+919876543210"


def test_foreign_numbers_keep_their_country_code():
    assert normalise_phone("+44 7911 123456") == "+447911123456"
    assert normalise_phone("0044 7911 123456") == "+447911123456"
    assert normalise_phone("+44 20 7946 0958", mobile=False) == "+442079460958"


@pytest.mark.parametrize("raw", ["+9100000000000", "12345", "+0123", "", "98765432101", "98765 4321",
                                 "+91 98765 43210 ext 5", "1-800-FLOWERS", "phone", "9" * 40])
def test_numbers_no_plan_has_are_refused(raw):
    with pytest.raises(UserError, match="^Not a (valid )?phone number"):
        normalise_phone(raw)


@pytest.mark.parametrize("raw", ["+91 5876543210", "5876543210", "022 2345 6789", "+44 20 7946 0958"])
def test_landlines_are_refused_where_a_message_will_be_sent(raw):
    with pytest.raises(UserError, match="^Not a mobile number"):
        normalise_phone(raw)
    assert normalise_phone(raw, mobile=False).startswith("+")


def test_emails_are_trimmed_and_lowercased():
    assert normalise_email("  Asha.Rao@Example.IN ") == "asha.rao@example.in"
    with pytest.raises(UserError):
        normalise_email("not-an-email")
