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


def reasons(role, talent, like=None):
    """Short sentences on how `talent` (a profile snapshot) meets `role`; `like`: the likeness to the role's
    embedding, when the role has one."""
    said = []
    if role.embedding is not None:
        said.append(f"like this role (similarity {like:.2f})" if like is not None
                    else "no embedding yet to compare with this role")
    have = {skill.lower() for skill in talent["skills"]}
    for skill in role.skills or []:
        said.append(f"has {skill}" if skill.lower() in have else f"missing skill: {skill}")
    spoken = {language["name"].lower(): language["proficiency"] for language in talent["languages"]}
    for wanted in role.languages or []:
        level = spoken.get(wanted["name"].lower())
        if level is None:
            said.append(f"does not speak {wanted['name']}")
        elif level in _at_least(wanted["proficiency"]):
            said.append(f"speaks {wanted['name']} ({level})")
        else:
            said.append(f"speaks {wanted['name']} ({level}; the part needs {wanted['proficiency']})")
    city = (talent["location"] or {}).get("city")
    if role.city:
        said.append(f"based in {role.city}" if city == role.city else f"based in {city or 'an unknown city'}, "
                    f"not {role.city}")
    years = talent["experience_years"] or 0
    said.append(f"{years} year{'s' if years != 1 else ''} of experience")
    if talent["is_verified"]:
        said.append("verified profile")
    return said
