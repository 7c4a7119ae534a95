"""Rank talent for a role: hard requirements filter, soft ones score (0..1) with reasons a person can read.

The score is computed in SQL so a page is ordered over every candidate; the reasons are written from
the page's own profiles. Weights apply only where the role says something (a role with no languages
does not score languages), and are renormalised over what applies. A role with an embedding from the
ML service also scores "like this role": the cosine similarity of the talent's embedding to the
role's (0 for talent without one, and never below 0).
"""
from sqlalchemy import Float, case, cast, func, literal, null, or_, select

from casting.extensions import db
from casting.talents.models import Availability, Talent, TalentEmbedding
from casting.talents.schemas import PROFICIENCIES
from casting.talents.services import age_clause

WEIGHTS = {"skills": 0.35, "languages": 0.25, "experience": 0.15, "city": 0.10, "completeness": 0.10,
           "verified": 0.05, "like_role": 0.30}
FULL_EXPERIENCE_YEARS = 10


def _at_least(proficiency):
    return PROFICIENCIES[PROFICIENCIES.index(proficiency):]


def _components(role):
    """(name, SQL expression in 0..1) for each soft requirement this role has."""
    parts = []
    skills = sorted({skill.lower() for skill in role.skills or []})
    if skills:
        matched = sum((case((Talent.skill_keys.contains([skill]), 1.0), else_=0.0) for skill in skills),
                      literal(0.0))
        parts.append(("skills", matched / len(skills)))
    if role.languages:
        points = []
        for wanted in role.languages:
            good = or_(*(Talent.languages.contains([{"name": wanted["name"], "proficiency": level}])
                         for level in _at_least(wanted["proficiency"])))
            points.append(case((good, 1.0), (Talent.language_keys.contains([wanted["name"].lower()]), 0.5),
                               else_=0.0))
        parts.append(("languages", sum(points, literal(0.0)) / len(points)))
    parts.append(("experience", func.least(func.coalesce(Talent.experience_years, 0), FULL_EXPERIENCE_YEARS)
                  / float(FULL_EXPERIENCE_YEARS)))
    if role.city and not role.city_required:
        parts.append(("city", case((Talent.location.contains({"city": role.city}), 1.0), else_=0.0)))
    parts.append(("completeness", cast(Talent.profile_score - 40 * cast(Talent.is_verified, db.Integer), Float)
                  / 60.0))
    parts.append(("verified", case((Talent.is_verified, 1.0), else_=0.0)))
    if role.embedding is not None:
        parts.append(("like_role", _likeness(role)))
    return parts


def _likeness(role):
    """Cosine similarity of the talent's embedding to the role's, at least 0 (and 0 without an embedding)."""
    return func.greatest(1.0 - TalentEmbedding.embedding.cosine_distance(role.embedding), 0.0)


def score_expression(role):
    parts = _components(role)
    total = sum(WEIGHTS[name] for name, _ in parts)
    return sum((expression * (WEIGHTS[name] / total) for name, expression in parts), literal(0.0))


def candidates(role):
    """Talent meeting the role's hard requirements: live, available, gender, age, city if required."""
    query = select(Talent.id).where(Talent.deleted_at.is_(None),
                                    Talent.availability_status == Availability.AVAILABLE)
    if role.gender is not None:
        query = query.where(Talent.gender == role.gender)
    if role.age_min is not None or role.age_max is not None:
        query = query.where(age_clause(role.age_min, role.age_max))
    if role.city and role.city_required:
        query = query.where(Talent.location.contains({"city": role.city}))
    return query


def ranked(role):
    """(talent id, score, likeness to the role or None) for every candidate, best first."""
    score = func.round(cast(score_expression(role), db.Numeric), 4).label("score")
    query = candidates(role)
    if role.embedding is None:
        like = null()
    else:
        query = query.outerjoin(TalentEmbedding, TalentEmbedding.talent_id == Talent.id)
        like = case((TalentEmbedding.talent_id.is_(None), null()),  # GREATEST would make a missing one 0
                    else_=func.round(cast(_likeness(role), db.Numeric), 4))
    return query.add_columns(score, like.label("like")).order_by(score.desc(), Talent.id.desc())


# How each fact reads: to the casting team about a talent ("team"), or to the talent about a role ("talent",
# roles for me). A fact without a phrase in a voice is not said in it.
PHRASES = {
    "team": {
        "like": "like this role (similarity {like:.2f})", "no_like": "no embedding yet to compare with this role",
        "skill": "has {skill}", "no_skill": "missing skill: {skill}",
        "no_language": "does not speak {name}", "language": "speaks {name} ({level})",
        "weak_language": "speaks {name} ({level}; the part needs {needed})",
        "city": "based in {city}", "other_city": "based in {actual}, not {city}",
        "experience": "{years} year{plural} of experience", "verified": "verified profile",
    },
    "talent": {
        "like": "your profile is like this role (similarity {like:.2f})",
        "no_like": "your profile has no embedding yet to compare with this role",
        "skill": "you have {skill}", "no_skill": "the role asks for {skill}, which is not on your profile",
        "no_language": "the role needs {name}, which you do not list",
        "language": "you speak {name} ({level})",
        "weak_language": "you speak {name} ({level}; the part needs {needed})",
        "city": "the role is in {city}, where you are based",
        "other_city": "the role is in {city}; you are based in {actual}",
        "age": "the role asks for {wanted}; your {which} is {have}",
        "experience": "you have {years} year{plural} of experience", "verified": "your profile is verified",
    },
}


def _span(low, high):
    if low is not None and high is not None:
        return f"{low}\u2013{high}" if low != high else str(low)
    return f"{low}+" if low is not None else f"up to {high}"


def _age_fact(role, talent):
    if role.age_min is None and role.age_max is None:
        return None
    wanted = _span(role.age_min, role.age_max)
    if talent.get("playing_age_min") is not None and talent.get("playing_age_max") is not None:
        playing = _span(talent["playing_age_min"], talent["playing_age_max"])
        return {"wanted": wanted, "which": "playing age", "have": playing}
    if talent.get("age") is not None:
        return {"wanted": wanted, "which": "age", "have": str(talent["age"])}
    return {"wanted": wanted, "which": "age", "have": "not on your profile"}


def facts(role, talent, like=None):
    """(phrase name, values) for how `talent` (a profile snapshot) meets `role`, in the order they are said."""
    said = []
    if role.embedding is not None:
        said.append(("like", {"like": like}) if like is not None else ("no_like", {}))
    have = {skill.lower() for skill in talent["skills"]}
    for skill in role.skills or []:
        said.append(("skill" if skill.lower() in have else "no_skill", {"skill": skill}))
    spoken = {language["name"].lower(): language["proficiency"] for language in talent["languages"]}
    for wanted in role.languages or []:
        level = spoken.get(wanted["name"].lower())
        values = {"name": wanted["name"], "level": level, "needed": wanted["proficiency"]}
        if level is None:
            said.append(("no_language", values))
        elif level in _at_least(wanted["proficiency"]):
            said.append(("language", values))
        else:
            said.append(("weak_language", values))
    age = _age_fact(role, talent)
    if age:
        said.append(("age", age))
    city = (talent["location"] or {}).get("city")
    if role.city:
        said.append(("city" if city == role.city else "other_city",
                     {"city": role.city, "actual": city or "an unknown city"}))
    years = talent["experience_years"] or 0
    said.append(("experience", {"years": years, "plural": "s" if years != 1 else ""}))
    if talent["is_verified"]:
        said.append(("verified", {}))
    return said


def reasons(role, talent, like=None, voice="team"):
    """Short sentences on how `talent` (a profile snapshot) meets `role`; `like`: the likeness to the role's
    embedding, when the role has one. `voice`: "team" (about the talent) or "talent" (to them, roles for me)."""
    phrases = PHRASES[voice]
    return [phrases[name].format(**values) for name, values in facts(role, talent, like) if name in phrases]
