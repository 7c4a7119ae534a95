"""Demo data: realistic Indian casting-industry accounts from Faker's `en_IN` locale.

Faker is a development extra (`demo`), imported only when seeding. Production never gets the demo
admin: its password is in this file.
"""
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from casting.extensions import db
from casting.optional import require
from casting.pii import blind_index
from casting.productions.models import CastingRole, Production
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


DEMO_PRODUCTIONS = [
    {"title": "Monsoon Wedding 2", "type": "film", "language": "Hindi", "status": "casting",
     "location": {"city": "Mumbai", "state": "Maharashtra", "country": "India"},
     "roles": [{"name": "Young Radha", "gender": "female", "age_min": 20, "age_max": 30,
                "skills": ["Acting", "Dancing"], "languages": [{"name": "Hindi", "proficiency": "fluent"}],
                "city": "Mumbai"},
               {"name": "Uncle Prakash", "gender": "male", "age_min": 45, "age_max": 65, "skills": ["Acting"],
                "languages": [{"name": "Punjabi", "proficiency": "conversational"}], "city": "Delhi"}]},
    {"title": "Chai Break (TV ad)", "type": "ad", "language": "Marathi", "status": "draft",
     "location": {"city": "Pune", "state": "Maharashtra", "country": "India"},
     "roles": [{"name": "College friend", "age_min": 18, "age_max": 25, "skills": ["Acting"],
                "languages": [{"name": "Marathi", "proficiency": "native"}], "city": "Pune",
                "city_required": True}]},
]


def _demo_productions():
    """The demo productions, owned by the first demo casting director; those already there are kept."""
    owner = db.session.scalar(select(User).where(User.email_index == blind_index(
        "casting.director1@demo.casting.in")))
    added = 0
    for spec in DEMO_PRODUCTIONS:
        if db.session.scalar(select(Production.id).where(Production.owner_id == owner.id,
                                                         Production.title == spec["title"])):
            continue
        fields = {key: value for key, value in spec.items() if key != "roles"}
        db.session.add(Production(owner_id=owner.id, **fields,
                                  roles=[CastingRole(**role) for role in spec["roles"]]))
        added += 1
    db.session.commit()
    return added


def seed_demo():
    """Insert the demo accounts and productions that are missing; returns (added, total demo accounts).

    In production mode (only ever with `flask seed demo --force`) the demo admin is left out.
    """
    fake = require("faker", "Seeding demo data").Faker("en_IN")
    fake.seed_instance(DEMO_SEED)
    rows = _demo_users(fake)  # all of them, so the random phones stay the same whichever are kept
    if current_app.config["APP_ENV"] == "production":
        rows = [row for row in rows if row["role"] != Role.ADMIN]
    result = db.session.execute(insert(User).values(rows).on_conflict_do_nothing().returning(User.id))
    added = len(result.all())
    db.session.commit()
    indexes = [row["email_index"] for row in rows]
    total = db.session.scalar(select(func.count()).select_from(User).where(User.email_index.in_(indexes)))
    _demo_productions()
    from casting.calls.seeding import seed_demo_calls

    seed_demo_calls()
    return added, total
