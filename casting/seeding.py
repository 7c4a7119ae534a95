"""Demo data: realistic Indian casting-industry accounts from Faker's `en_IN` locale.

Faker is a development extra (`demo`), imported only when seeding. Production never gets the demo
admin: its password is in this file.
"""
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from casting.kernel.extensions import db
from casting.kernel.optional import require
from casting.kernel.pii import blind_index
from casting.productions.models import CastingRole, Production
from casting.users.models import Role, User
from casting.users.services import UserError, hash_password, normalise_phone

DEMO_PASSWORD = "Demo@Casting2026"
DEMO_SEED = 2026
DEMO_ACCOUNTS = {Role.ADMIN: 1, Role.CASTING_DIRECTOR: 5, Role.PRODUCER: 3, Role.AGENT: 2,
                 Role.TALENT: 40}


def _demo_phone(fake):
    """A random Indian mobile number that the numbering plan has (so the account can sign in with it)."""
    while True:
        try:
            return normalise_phone(f"+91{fake.random_element('6789')}{fake.numerify('#########')}")
        except UserError:
            continue


def _demo_users(fake):
    """The same list of users on every run, so seeding twice changes nothing."""
    password_hash = hash_password(DEMO_PASSWORD)
    rows = []
    for role, count in DEMO_ACCOUNTS.items():
        for number in range(1, count + 1):
            email = f"{role.value.replace('_', '.')}{number}@demo.casting.in"
            phone = _demo_phone(fake)
            rows.append({
                "full_name": fake.name(), "role": role, "email": email, "email_index": blind_index(email),
                "phone": phone, "phone_index": blind_index(phone), "password_hash": password_hash,
                "phone_verified": True, "email_verified": True,
            })
    return rows


# Ordinary postings, written the way casting teams write them (English, Hindi, Hinglish): they talk about
# pay, selection, fees that are not charged and advances the production pays, so the scam shield is
# tested on them (tests/test_scam_shield.py) and must flag none.
DEMO_PRODUCTIONS = [
    {"title": "Monsoon Wedding 2", "type": "film", "language": "Hindi", "status": "casting",
     "location": {"city": "Mumbai", "state": "Maharashtra", "country": "India"},
     "description": "Feature film, the sequel to a family wedding drama, shooting 40 days in Mumbai and Delhi from "
                    "February. Selected artists are paid per shoot day as per the contract; travel and stay outside "
                    "Mumbai are covered by the production. There is no registration or audition fee at any stage. "
                    "Audition by self-tape first; shortlisted actors are called for a look test.",
     "roles": [{"name": "Young Radha", "gender": "female", "age_min": 20, "age_max": 30,
                "skills": ["Acting", "Dancing"], "languages": [{"name": "Hindi", "proficiency": "fluent"}],
                "city": "Mumbai", "pay_inr": 25000,
                "description": "The bride's cousin: warm, restless, funny. Kathak or any classical dance is a plus. "
                               "Selected candidates will be paid ₹25,000 per day for 18 days, with a 30% advance "
                               "on signing. Please tell us in advance about any dates you cannot make."},
               {"name": "Uncle Prakash", "gender": "male", "age_min": 45, "age_max": 65, "skills": ["Acting"],
                "languages": [{"name": "Punjabi", "proficiency": "conversational"}], "city": "Delhi",
                "description": "A Punjabi uncle who runs the wedding like a general. Comic timing matters more than "
                               "looks. Six shoot days in Delhi; after selection, the production books your travel "
                               "and hotel."}]},
    {"title": "Chai Break (TV ad)", "type": "ad", "language": "Marathi", "status": "draft",
     "location": {"city": "Pune", "state": "Maharashtra", "country": "India"},
     "description": "A 30-second TV commercial for a Pune tea brand, one shoot day. The fee is ₹40,000 for the day "
                    "plus one year of usage, paid within 30 days of the shoot by the agency.",
     "roles": [{"name": "College friend", "age_min": 18, "age_max": 25, "skills": ["Acting"],
                "languages": [{"name": "Marathi", "proficiency": "native"}], "city": "Pune",
                "city_required": True, "pay_inr": 40000,
                "description": "Natural, funny college student. Come in your own casual clothes. Selection is "
                               "after a short audition at our Kothrud studio; costumes for the shoot are provided. "
                               "Registration for the audition closes on Friday."}]},
    {"title": "Galli Cricket", "type": "web_series", "language": "Hindi", "status": "casting",
     "location": {"city": "Mumbai", "state": "Maharashtra", "country": "India"},
     "description": "मुंबई की गलियों के क्रिकेट पर आठ एपिसोड की वेब सीरीज़। चयनित कलाकारों को प्रति दिन के हिसाब से "
                    "भुगतान किया जाएगा। ऑडिशन और पंजीकरण पूरी तरह निःशुल्क है, कोई फीस नहीं ली जाएगी।",
     "roles": [{"name": "Captain Bunty", "gender": "male", "age_min": 14, "age_max": 18,
                "skills": ["Acting", "Cricket"], "languages": [{"name": "Hindi", "proficiency": "native"}],
                "city": "Mumbai", "pay_inr": 8000,
                "description": "Gully team ka captain, cricket khelna aana chahiye. Shoot Dharavi mein, 20 din. "
                               "Selection ke baad contract sign hoga aur payment production ki taraf se har hafte "
                               "milega. Koi registration fees nahi hai, audition bilkul free hai."},
               {"name": "Coach Sir", "gender": "male", "age_min": 50, "age_max": 60, "skills": ["Acting"],
                "languages": [{"name": "Hindi", "proficiency": "fluent"}], "city": "Mumbai",
                "description": "रिटायर्ड रणजी खिलाड़ी जो अब बच्चों को सिखाता है। चयन के बाद यात्रा और ठहरने का खर्च "
                               "प्रोडक्शन देगा। Self-tape bhejiye, shortlist hone ke baad look test Mumbai "
                               "mein hoga."}]},
    {"title": "Kaveri Nights", "type": "film", "language": "Tamil", "status": "casting",
     "location": {"city": "Chennai", "state": "Tamil Nadu", "country": "India"},
     "description": "An independent Tamil thriller, 25 shoot days in Chennai and Mysuru. Remuneration is discussed "
                    "with the shortlisted actors; nobody from our team will ever ask you for money or a deposit.",
     "roles": [{"name": "Inspector Meena", "gender": "female", "age_min": 28, "age_max": 40,
                "skills": ["Acting"], "languages": [{"name": "Tamil", "proficiency": "native"}], "city": "Chennai",
                "pay_inr": 30000,
                "description": "A tired, sharp police inspector. Some driving and light action. Selected actors "
                               "get ₹30,000 per shoot day; your train tickets are booked and paid by us."}]},
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
