"""Demo calls and submissions (`flask seed demo`), and many open calls for benchmarks (`flask seed calls`)."""
import json
import random
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, text

from casting.calls.models import CallCategory, CastingCall, Submission, SubmissionNote, SubmissionStatus
from casting.kernel.extensions import db
from casting.meta import CITIES, LANGUAGES, SKILLS
from casting.kernel.pii import blind_index
from casting.productions.models import CastingRole, Production
from casting.talents.models import Talent
from casting.kernel.fields import PROFICIENCIES
from casting.users.models import User

DEMO_TALENTS = [  # the first demo talent accounts get a profile, so their submissions have someone behind them
    {"stage_name": "Ananya Kulkarni", "gender": "female", "date_of_birth": date(1999, 3, 14), "playing_age_min": 21,
     "playing_age_max": 28, "location": {"city": "Mumbai", "state": "Maharashtra", "country": "India"},
     "skills": ["Acting", "Kathak", "Dancing"], "experience_years": 4,
     "languages": [{"name": "Hindi", "proficiency": "fluent"}, {"name": "Marathi", "proficiency": "native"}]},
    {"stage_name": "Meher Sandhu", "gender": "female", "date_of_birth": date(1996, 8, 2), "playing_age_min": 24,
     "playing_age_max": 32, "location": {"city": "Delhi", "state": "Delhi", "country": "India"},
     "skills": ["Acting", "Singing"], "experience_years": 7,
     "languages": [{"name": "Hindi", "proficiency": "native"}, {"name": "Punjabi", "proficiency": "native"}]},
    {"stage_name": "Rohan Deshpande", "gender": "male", "date_of_birth": date(1970, 1, 22), "playing_age_min": 48,
     "playing_age_max": 60, "location": {"city": "Pune", "state": "Maharashtra", "country": "India"},
     "skills": ["Acting", "Theatre"], "experience_years": 25,
     "languages": [{"name": "Marathi", "proficiency": "native"}, {"name": "Punjabi", "proficiency": "basic"}]},
]
DEMO_CALLS = {  # role name in the demo production -> the call
    "Young Radha": {"category": CallCategory.LEAD, "portfolio_min": 0, "self_tape": True,
                    "details": "Prepare the sangeet scene; a 60-second self-tape of a Kathak piece helps.",
                    "questions": ["Are you free for a 40-day schedule in Mumbai from January?"],
                    "submission_cap": 500},
    "Uncle Prakash": {"category": CallCategory.SUPPORTING, "requires_headshot": False, "remote": True,
                      "details": "Warm, funny, a little too loud at weddings.", "questions": []},
}


def _demo_user(email):
    return db.session.scalar(select(User).where(User.email_index == blind_index(email)))


def _demo_profiles():
    talents = []
    for number, spec in enumerate(DEMO_TALENTS, start=1):
        user = _demo_user(f"talent{number}@demo.casting.in")
        talent = db.session.scalar(select(Talent).where(Talent.user_id == user.id))
        if talent is None:
            talent = Talent(user_id=user.id, bio=f"Demo profile of {spec['stage_name']}.", **spec)
            talent.refresh_derived()
            db.session.add(talent)
            db.session.flush()
        talents.append(talent)
    return talents


def seed_demo_calls():
    """Calls on the demo production's roles and a few submissions to them; what is there already is kept."""
    production = db.session.scalar(select(Production).where(Production.title == "Monsoon Wedding 2"))
    if production is None:
        return 0
    talents = _demo_profiles()
    owner_id = production.owner_id
    calls = {}
    for role in production.roles:
        spec = DEMO_CALLS.get(role.name)
        call = db.session.scalar(select(CastingCall).where(CastingCall.role_id == role.id))
        if call is None and spec is not None:
            call = CastingCall(role_id=role.id, production_id=production.id, created_by=owner_id,
                               deadline=datetime.now(timezone.utc) + timedelta(days=30), **spec)
            db.session.add(call)
            db.session.flush()
        calls[role.name] = call
    added = 0
    radha, prakash = calls.get("Young Radha"), calls.get("Uncle Prakash")
    for talent, call, answers, status in (
            (talents[0], radha, ["Yes, all of January and February."], SubmissionStatus.SHORTLISTED),
            (talents[1], radha, ["Yes."], SubmissionStatus.SUBMITTED),
            (talents[2], prakash, [], SubmissionStatus.VIEWED)):
        if call is None or db.session.scalar(select(Submission.id).where(Submission.call_id == call.id,
                                                                         Submission.talent_id == talent.id)):
            continue
        submission = Submission(call_id=call.id, talent_id=talent.id, submitted_by=talent.user_id, status=status,
                                answers=answers, portfolio_ids=[],
                                cover_note=f"{talent.stage_name}: {talent.experience_years} years on stage and screen.")
        if status == SubmissionStatus.SHORTLISTED:
            submission.rating = 4
            submission.notes = [SubmissionNote(author_id=owner_id, body="Lovely Kathak; check her Hindi diction.",
                                               rating=4)]
        db.session.add(submission)
        call.submission_count += 1
        added += 1
    db.session.commit()
    return added


def _role_rows(rng, count, production_ids):
    for number in range(count):
        low = rng.randrange(5, 60)
        skills = rng.sample(SKILLS, rng.randrange(0, 4))
        languages = [{"name": name, "proficiency": rng.choice(PROFICIENCIES)}
                     for name in rng.sample(LANGUAGES, rng.randrange(0, 3))]
        city = rng.choice(CITIES)[0] if rng.random() < 0.8 else None
        yield (production_ids[number % len(production_ids)], f"Role {number + 1}",
               rng.choice(["female", "male", None, None]), low if rng.random() < 0.8 else None,
               low + rng.randrange(3, 15) if rng.random() < 0.8 else None, json.dumps(skills), json.dumps(languages),
               city, city is not None and rng.random() < 0.2, rng.randrange(5, 500) * 1000, "open")


def seed_calls(count, submissions=0, represented=0, seed=2026):
    """`count` open calls on new roles (100 to a production) of the demo's second casting director; up to
    `submissions` submissions in all (from the live talent, in id order) to the demo's "Young Radha" call;
    and the first demo agent made the agent of up to `represented` talent without an account. Returns
    (calls added, submissions added)."""
    rng = random.Random(seed)
    if represented:
        agent = _demo_user("agent1@demo.casting.in")
        db.session.execute(text(
            "UPDATE talents SET agent_id = :agent WHERE id IN (SELECT id FROM talents WHERE user_id IS NULL "
            "AND deleted_at IS NULL ORDER BY id LIMIT :count)"), {"agent": agent.id, "count": represented})
    if count <= 0:
        sent = _seed_submissions(submissions) if submissions else 0
        db.session.commit()
        return 0, sent
    owner = _demo_user("casting.director2@demo.casting.in")
    productions = [Production(owner_id=owner.id, title=f"Benchmark production {number + 1}",
                              type=rng.choice(["film", "web_series", "tv", "ad", "theatre"]),
                              language=rng.choice(LANGUAGES), status="casting",
                              location={"city": rng.choice(CITIES)[0]}) for number in range(max(1, count // 100))]
    db.session.add_all(productions)
    db.session.flush()
    connection = db.session.connection().connection
    with connection.cursor() as cursor:
        with cursor.copy("COPY production_roles (production_id, name, gender, age_min, age_max, skills, languages, "
                         "city, city_required, pay_inr, status) FROM STDIN") as copy:
            for row in _role_rows(rng, count, [production.id for production in productions]):
                copy.write_row(row)
    ids = [production.id for production in productions]
    added = db.session.execute(text(
        "INSERT INTO casting_calls (role_id, production_id, created_by, status, category, eligibility, deadline, "
        "questions, requires_headshot, remote, self_tape) "
        "SELECT r.id, r.production_id, :owner, 'open', "
        "(ARRAY['lead','supporting','background','model','voice','dancer','musician','other'])[1 + r.id % 8]"
        "::call_category, 'all', now() + make_interval(days => 1 + r.id % 60), '[]', false, r.id % 5 = 0, "
        "r.id % 3 = 0 FROM production_roles r WHERE r.production_id = ANY(:ids)"),
        {"owner": owner.id, "ids": ids}).rowcount
    sent = _seed_submissions(submissions) if submissions else 0
    db.session.commit()
    db.session.execute(text("ANALYZE casting_calls"))
    db.session.execute(text("ANALYZE production_roles"))
    db.session.commit()
    return added, sent


def _seed_submissions(count):
    radha = db.session.scalar(select(CastingCall).join(CastingRole, CastingRole.id == CastingCall.role_id)
                              .where(CastingRole.name == "Young Radha"))
    have = db.session.scalar(select(func.count()).where(Submission.call_id == radha.id))
    sent = db.session.execute(text(
        "INSERT INTO call_submissions (call_id, talent_id, status, portfolio_ids, answers, match_score, created_at) "
        "SELECT :call, t.id, (ARRAY['submitted','viewed','shortlisted','declined'])[1 + t.id % 4]::submission_status, "
        "'[]', '[]', (t.id % 1000) / 1000.0, now() - make_interval(secs => t.id) FROM talents t "
        "WHERE t.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM call_submissions s WHERE s.call_id = :call "
        "AND s.talent_id = t.id) ORDER BY t.id LIMIT :count"),
        {"call": radha.id, "count": max(count - have, 0)}).rowcount
    radha.submission_count = have + sent
    radha.submission_cap = None
    db.session.execute(text("ANALYZE call_submissions"))
    return sent
