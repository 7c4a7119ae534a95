"""`flask seed auditions N`: auditions at scale for benchmarks, with slots and invitations (COPY).

The auditions belong to productions of the demo casting accounts (`flask seed demo` first) and invite the
seeded talent (`flask seed talents` first): one production with two roles per ten auditions, days
spread over the past year and the next six months, twelve slots each, `invites` invitations each
with the first step of their history. The demo talent (talent1@demo) is invited to one audition in a
hundred, so a talent's list has something in it too.
"""
import random
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text

from casting.auditions.models import Audition, AuditionMode, AuditionStatus
from casting.kernel.extensions import db
from casting.meta import CITIES
from casting.kernel.pii import blind_index
from casting.seeding import DEMO_ACCOUNTS
from casting.productions.models import CastingRole, Production, ProductionStatus, ProductionType
from casting import talents
from casting.talents.models import Talent
from casting.users.models import Role, User

AUDITIONS_PER_PRODUCTION = 10
SLOTS = 12  # 10:00 to 13:00 in 15-minute slots
DEMO_TALENT = "talent1@demo.casting.in"
DEMO_CASTING = [f"{role.value.replace('_', '.')}{number}@demo.casting.in"
                for role in (Role.CASTING_DIRECTOR, Role.PRODUCER) for number in range(1, DEMO_ACCOUNTS[role] + 1)]
TITLES = ["First round", "Callback", "Look test", "Screen test", "Open call", "Final round"]
ROLES = ["Lead", "Best friend", "Mother", "Inspector", "College student", "Shopkeeper", "Villain", "Neighbour"]


def _demo_talent_id():
    """The demo talent's profile (made if missing), so their invitations list has rows."""
    user = db.session.scalar(select(User).where(User.email_index == blind_index(DEMO_TALENT)))
    if user is None:
        return None
    own = db.session.scalar(select(Talent.id).where(Talent.user_id == user.id))
    return own or talents.create(user, {"stage_name": "Demo Talent One"}).id


def _productions(rng, count, owners):
    """`count` productions, each with two roles: [(production id, owner id, [role ids])]."""
    made = []
    for number in range(count):
        city, state = rng.choice(CITIES)
        owner = rng.choice(owners)
        production = Production(
            owner_id=owner, title=f"Seeded production {number + 1}", type=rng.choice(list(ProductionType)),
            language=rng.choice(["Hindi", "Marathi", "Tamil", "Telugu", "Bengali"]), status=ProductionStatus.CASTING,
            location={"city": city, "state": state, "country": "India"},
            roles=[CastingRole(name=name, age_min=18, age_max=60) for name in rng.sample(ROLES, 2)])
        db.session.add(production)
        made.append(production)
    db.session.flush()
    return [(production.id, [role.id for role in production.roles]) for production in made]


def _audition_rows(rng, count, productions, today):
    rows = []
    for _ in range(count):
        production_id, role_ids = rng.choice(productions)
        day = today + timedelta(days=rng.randrange(-365, 180))
        city, state = rng.choice(CITIES)
        created = datetime.combine(day - timedelta(days=rng.randrange(7, 60)), time(9), timezone.utc)
        rows.append({"production_id": production_id, "role_id": rng.choice(role_ids),
                     "title": rng.choice(TITLES), "mode": rng.choice(list(AuditionMode)),
                     "location": {"city": city, "state": state, "country": "India"}, "scheduled_date": day,
                     "duration_minutes": 15, "status": AuditionStatus.COMPLETED if day < today
                     else AuditionStatus.SCHEDULED, "created_at": created, "updated_at": created})
    return rows


def seed_auditions(count, invites=50, seed=2026):
    """Add `count` auditions with slots and `invites` invitations each; returns how many were added."""
    rng = random.Random(seed + db.session.scalar(select(func.count()).select_from(Audition)))
    owners = db.session.scalars(select(User.id).where(
        User.role.in_([Role.CASTING_DIRECTOR, Role.PRODUCER]),
        User.email_index.in_([blind_index(email) for email in DEMO_CASTING])).order_by(User.id)).all()
    talent_ids = db.session.scalars(select(Talent.id).where(Talent.deleted_at.is_(None))).all()
    if not owners or len(talent_ids) < invites:
        raise RuntimeError("Seed casting accounts (`flask seed demo`) and talent (`flask seed talents`) first.")
    demo_talent = _demo_talent_id()
    productions = _productions(rng, max(1, count // AUDITIONS_PER_PRODUCTION), owners)
    rows = _audition_rows(rng, count, productions, date.today())
    audition_ids = db.session.scalars(insert(Audition).returning(Audition.id, sort_by_parameter_order=True),
                                      rows).all()
    db.session.commit()
    zone = ZoneInfo("Asia/Kolkata")
    connection = db.engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            with cursor.copy("COPY audition_slots (audition_id, start_at, end_at, capacity, booked) "
                             "FROM STDIN") as copy:
                for audition_id, row in zip(audition_ids, rows):
                    start = datetime.combine(row["scheduled_date"], time(10), zone)
                    for slot in range(SLOTS):
                        begins = start + timedelta(minutes=15 * slot)
                        copy.write_row((audition_id, begins, begins + timedelta(minutes=15), 2, 0))
            with cursor.copy("COPY invitations (audition_id, talent_id, status, created_at, updated_at) "
                             "FROM STDIN") as copy:
                for number, (audition_id, row) in enumerate(zip(audition_ids, rows)):
                    invited = set(rng.sample(talent_ids, invites))
                    if demo_talent and number % 100 == 0:
                        invited.add(demo_talent)
                    for talent_id in invited:
                        copy.write_row((audition_id, talent_id, "invited", row["created_at"], row["created_at"]))
            cursor.execute(
                "INSERT INTO invitation_events (invitation_id, to_status, by_user_id, at) "
                "SELECT i.id, 'invited', p.owner_id, i.created_at FROM invitations i "
                "JOIN auditions a ON a.id = i.audition_id JOIN productions p ON p.id = a.production_id "
                "WHERE i.audition_id >= %(first)s "
                "AND NOT EXISTS (SELECT 1 FROM invitation_events e WHERE e.invitation_id = i.id)",
                {"first": audition_ids[0]})
        connection.commit()
    finally:
        connection.close()
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE auditions, audition_slots, invitations, invitation_events"))
    return len(audition_ids)
