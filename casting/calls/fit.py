"""Roles for me: role matching in reverse. One talent, every open call's role, the same weights and reasons.

`productions.matching` scores many talents against one role in SQL; here the talent is fixed and the
roles vary, so what matching reads from the talent row becomes bound values, and what it reads from
the role (which parts apply, what they ask for) becomes SQL over `production_roles`. The weights, the
proficiency order and the renormalisation over the parts that apply are matching's own, so a talent's
score for a role here is the score that role's matches give them (up to the 4-digit rounding).
"""
from sqlalchemy import Float, Integer, and_, bindparam, case, cast, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB, array

from casting.calls.models import CastingCall, Eligibility
from casting.productions import FULL_EXPERIENCE_YEARS, WEIGHTS
from casting.productions.models import CastingRole
from casting.kernel.extensions import db
from casting.talents.models import TalentEmbedding
from casting.kernel.fields import PROFICIENCIES


# The talent columns roles for me read (`score_expression`, `fits`): a cached page follows an edit of one of
# them (`routes._for_me_versions`), not a new day rate or availability (talent_cache's topics: column names).
TOPICS = frozenset({"gender", "playing_age_min", "playing_age_max", "date_of_birth", "location", "skills", "languages",
                    "experience_years", "profile_score", "is_verified", "agent_id", "embedding"})


def _ranks(languages):
    """{lower-cased language: 1-based proficiency rank} of a talent's languages."""
    return {language["name"].lower(): PROFICIENCIES.index(language["proficiency"]) + 1
            for language in languages or [] if language.get("proficiency") in PROFICIENCIES}


def _skills_part(keys):
    wanted = func.jsonb_array_elements_text(CastingRole.skills).table_valued("value").render_derived("wanted")
    matched = select(func.count()).select_from(wanted).where(
        func.lower(wanted.c.value).in_(keys) if keys else literal(False)).scalar_subquery()
    length = func.jsonb_array_length(CastingRole.skills)
    return length > 0, cast(matched, Float) / func.greatest(length, 1)


def _languages_part(languages):
    spoken = bindparam("spoken_languages", _ranks(languages), type_=JSONB)
    wanted = func.jsonb_array_elements(CastingRole.languages).table_valued("value").render_derived("wanted")
    mine = cast(spoken.op("->>")(func.lower(wanted.c.value.op("->>")("name"))), Integer)
    needed = func.array_position(array(PROFICIENCIES), wanted.c.value.op("->>")("proficiency"))
    points = case((mine.is_(None), 0.0), (mine >= needed, 1.0), else_=0.5)
    average = select(func.coalesce(func.avg(points), 0.0)).select_from(wanted).scalar_subquery()
    return func.jsonb_array_length(CastingRole.languages) > 0, cast(average, Float)


def score_expression(talent, vector=None):
    """SQL over `production_roles`: how well `talent` (a Talent row) fits each role, 0..1, as matching scores."""
    city = (talent.location or {}).get("city")
    parts = [
        _skills_part(list(talent.skill_keys or [])),
        _languages_part(talent.languages),
        (true(), literal(min(talent.experience_years or 0, FULL_EXPERIENCE_YEARS) / float(FULL_EXPERIENCE_YEARS))),
        (and_(CastingRole.city.is_not(None), ~CastingRole.city_required),
         case((CastingRole.city == city, 1.0), else_=0.0) if city else literal(0.0)),
        (true(), literal((talent.profile_score - 40 * int(bool(talent.is_verified))) / 60.0)),
        (true(), literal(1.0 if talent.is_verified else 0.0)),
        (CastingRole.embedding.is_not(None),
         func.greatest(1.0 - CastingRole.embedding.cosine_distance(vector), 0.0) if vector is not None
         else literal(0.0)),
    ]
    names = ("skills", "languages", "experience", "city", "completeness", "verified", "like_role")
    weight = sum((case((applies, WEIGHTS[name]), else_=0.0) for (applies, _), name in zip(parts, names)),
                 literal(0.0))
    points = sum((case((applies, WEIGHTS[name] * value), else_=0.0) for (applies, value), name in zip(parts, names)),
                 literal(0.0))
    return points / func.greatest(weight, 0.0001)


def likeness(vector):
    """SQL: the likeness of each role's embedding to the talent's `vector` (None where either is missing)."""
    if vector is None:
        return literal(None)
    return case((CastingRole.embedding.is_(None), None),
                else_=func.greatest(1.0 - CastingRole.embedding.cosine_distance(vector), 0.0))


def fits(talent):
    """SQL: the role's hard requirements that `talent` meets (gender, age, a required city) and the call's
    eligibility (verified only, agents only)."""
    conditions = [or_(CastingRole.gender.is_(None), CastingRole.gender == talent.gender)
                  if talent.gender is not None else CastingRole.gender.is_(None)]
    low, high = talent.playing_age_min, talent.playing_age_max
    if low is None or high is None:
        low = high = talent.age
    if low is not None:
        conditions += [or_(CastingRole.age_min.is_(None), CastingRole.age_min <= high),
                       or_(CastingRole.age_max.is_(None), CastingRole.age_max >= low)]
    city = (talent.location or {}).get("city")
    conditions.append(or_(~CastingRole.city_required, CastingRole.city == city) if city else ~CastingRole.city_required)
    if not talent.is_verified:
        conditions.append(CastingCall.eligibility != Eligibility.VERIFIED)
    if talent.agent_id is None:
        conditions.append(CastingCall.eligibility != Eligibility.AGENTS)
    return and_(*conditions)


def talent_vector(talent_id):
    """The talent's embedding, or None."""
    return db.session.scalar(select(TalentEmbedding.embedding).where(TalentEmbedding.talent_id == talent_id))
