import pytest

from casting.users.services import UserError, normalise_email, normalise_phone


@pytest.mark.parametrize("raw", ["9876543210", "098765 43210", "+91 98765-43210", "919876543210",
                                 "(98765) 43210", "+919876543210"])
def test_indian_numbers_normalise_to_e164(raw):
    assert normalise_phone(raw) == "+919876543210"


def test_foreign_numbers_keep_their_country_code():
    assert normalise_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("raw", ["12345", "5876543210", "+0123", "phone", "", "98765432101"])
def test_bad_numbers_are_refused(raw):
    with pytest.raises(UserError):
        normalise_phone(raw)


def test_emails_are_trimmed_and_lowercased():
    assert normalise_email("  Asha.Rao@Example.IN ") == "asha.rao@example.in"
    with pytest.raises(UserError):
        normalise_email("not-an-email")
