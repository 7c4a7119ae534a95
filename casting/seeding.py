"""Demo data: realistic Indian casting-industry accounts from Faker's `en_IN` locale."""
from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from casting.extensions import db
from casting.pii import blind_index
from casting.users.models import Role, User
from casting.users.services import hash_password

DEMO_PASSWORD = "Demo@Casting2026"
DEMO_SEED = 2026
DEMO_ACCOUNTS = {Role.ADMIN: 1, Role.CASTING_DIRECTOR: 5, Role.PRODUCER: 3, Role.AGENT: 2,
                 Role.TALENT: 40}


def _demo_users(fake):
    """The same list of users on every run, so seeding twice changes nothing."""
    password_hash = hash_password(DEMO_PASSWORD)
    rows = []
    for role, count in DEMO_ACCOUNTS.items():
        for number in range(1, count + 1):
            email = f"{role.value.replace('_', '.')}{number}@demo.casting.in"
            phone = f"+91{fake.random_element('6789')}{fake.numerify('#########')}"
            rows.append({
                "full_name": fake.name(), "role": role, "email": email, "email_index": blind_index(email),
                "phone": phone, "phone_index": blind_index(phone), "password_hash": password_hash,
                "phone_verified": True, "email_verified": True,
            })
    return rows


def seed_demo():
    """Insert the demo accounts that are missing; returns (added, total demo accounts)."""
    fake = Faker("en_IN")
    fake.seed_instance(DEMO_SEED)
    rows = _demo_users(fake)
    result = db.session.execute(insert(User).values(rows).on_conflict_do_nothing().returning(User.id))
    added = len(result.all())
    db.session.commit()
    indexes = [row["email_index"] for row in rows]
    total = db.session.scalar(select(func.count()).select_from(User).where(User.email_index.in_(indexes)))
    return added, total
