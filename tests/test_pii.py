"""PII at rest: nothing readable in the tables, look-ups by blind index, key rotation, migration."""
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.engine import make_url

from casting.kernel.extensions import db
from casting.users.services import create_user, find_by_contact
from tests.support import recreate_database


def _raw_users(app):
    with app.app_context():
        return [dict(row._mapping) for row in db.session.execute(text("SELECT * FROM users"))]


def test_a_plain_select_shows_no_email_or_phone(app):
    with app.app_context():
        create_user("Asha Rao", "talent", password="Kathak-and-Monsoon-2026", email="asha@example.in",
                    phone="9876543210")
    [row] = _raw_users(app)
    dump = repr(row)
    assert "asha@example.in" not in dump and "9876543210" not in dump
    assert "email" not in row and "phone" not in row
    with app.app_context():
        user = find_by_contact(email="asha@example.in")
        assert (user.email, user.phone) == ("asha@example.in", "+919876543210")
        assert find_by_contact(phone="+919876543210").id == user.id
        assert find_by_contact(email="nobody@example.in") is None


def test_rotation_re_encrypts_everything_and_the_old_key_can_go(make_app):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = make_app(PII_KEYS=[old])
    with before.app_context():
        create_user("Asha Rao", "talent", email="asha@example.in", phone="9876543210")
        create_user("Vikram Shah", "producer", email="vikram@example.in")
    rotating = make_app(PII_KEYS=[new, old])
    result = rotating.test_cli_runner().invoke(args=["keys", "rotate-pii", "--batch-size", "1"])
    assert "re-encrypted 3 values" in result.output
    after = make_app(PII_KEYS=[new])
    with after.app_context():
        assert find_by_contact(email="asha@example.in").phone == "+919876543210"
        assert find_by_contact(email="vikram@example.in").full_name == "Vikram Shah"
    for row in _raw_users(after):
        assert Fernet(new.encode()).decrypt(row["email_encrypted"].encode())


def test_generate_prints_a_usable_key(runner):
    key = runner.invoke(args=["keys", "generate"]).output.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_the_migration_encrypts_existing_rows_and_back(make_app, server_urls):
    name = make_url(server_urls["server_database"]).database + "_pii"
    app = make_app(DATABASE_URL=recreate_database(server_urls["server_database"], name))
    with app.app_context():
        upgrade(revision="0002")
        db.session.execute(text("INSERT INTO users (full_name, email, phone, role) "
                                "VALUES ('Asha', 'asha@example.in', '+919876543210', 'talent')"))
        db.session.commit()
        upgrade()
        row = db.session.execute(text("SELECT * FROM users")).mappings().one()
        assert "asha@example.in" not in repr(dict(row))
        assert find_by_contact(email="asha@example.in").phone == "+919876543210"
        db.session.commit()
        downgrade(revision="0002")
        assert db.session.execute(text("SELECT email, phone FROM users")).one() == (
            "asha@example.in", "+919876543210")
        db.session.commit()
        db.engine.dispose()
