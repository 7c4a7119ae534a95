"""Roles for me: role matching in reverse. One talent, every open call's role, the same weights and reasons.

`productions.matching` scores many talents against one role in SQL; here the talent is fixed and the
roles vary, so what matching reads from the talent row becomes bound values, and what it reads from
the role (which parts apply, what they ask for) becomes SQL over `production_roles`. The weights, the
proficiency order and the renormalisation over the parts that apply are matching's own, so a talent's
score for a role here is the score that role's matches give them (up to the 4-digit rounding).
"""
from sqlalchemy import Boolean, Float, Integer, String, and_, bindparam, case, cast, func, literal, or_, select, true
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


def _skills_part():
    wanted = func.jsonb_array_elements_text(CastingRole.skills).table_valued("value").render_derived("wanted")
    matched = select(func.count()).select_from(wanted).where(
        func.lower(wanted.c.value).in_(bindparam("skill_keys", expanding=True))).scalar_subquery()
    length = func.jsonb_array_length(CastingRole.skills)
    return length > 0, cast(matched, Float) / func.greatest(length, 1)


def _languages_part():
    spoken = bindparam("spoken_languages", type_=JSONB)
    wanted = func.jsonb_array_elements(CastingRole.languages).table_valued("value").render_derived("wanted")
    mine = cast(spoken.op("->>")(func.lower(wanted.c.value.op("->>")("name"))), Integer)
    needed = func.array_position(array(PROFICIENCIES), wanted.c.value.op("->>")("proficiency"))
    points = case((mine.is_(None), 0.0), (mine >= needed, 1.0), else_=0.5)
    average = select(func.coalesce(func.avg(points), 0.0)).select_from(wanted).scalar_subquery()
    return func.jsonb_array_length(CastingRole.languages) > 0, cast(average, Float)


def _vector():
    return bindparam("vector", type_=CastingRole.embedding.type)


def values(talent, vector):
    """The bound values of `score_expression`, `fits` and `likeness` for `talent` (a Talent row) and its
    embedding (or None)."""
    low, high = talent.playing_age_min, talent.playing_age_max
    if low is None or high is None:
        low = high = talent.age
    return {"skill_keys": list(talent.skill_keys or []), "spoken_languages": _ranks(talent.languages),
            "experience": min(talent.experience_years or 0, FULL_EXPERIENCE_YEARS) / float(FULL_EXPERIENCE_YEARS),
            "city": (talent.location or {}).get("city") or None,
            "completeness": (talent.profile_score - 40 * int(bool(talent.is_verified))) / 60.0,
            "verified": bool(talent.is_verified), "represented": talent.agent_id is not None,
            "gender": talent.gender, "age_low": low, "age_high": high, "vector": vector}


def score_expression():
    """SQL over `production_roles`: how well the talent of `values` fits each role, 0..1, as matching scores.
    Fixed SQL over bound values (a missing city or vector is a NULL that scores 0), so it is built once."""
    verified = bindparam("verified", type_=Boolean)
    parts = [
        _skills_part(),
        _languages_part(),
        (true(), bindparam("experience", type_=Float)),
        (and_(CastingRole.city.is_not(None), ~CastingRole.city_required),
         case((CastingRole.city == bindparam("city", type_=String), 1.0), else_=0.0)),
        (true(), bindparam("completeness", type_=Float)),
        (true(), case((verified, 1.0), else_=0.0)),
        (CastingRole.embedding.is_not(None),
         func.coalesce(func.greatest(1.0 - CastingRole.embedding.cosine_distance(_vector()), 0.0), 0.0)),
    ]
    names = ("skills", "languages", "experience", "city", "completeness", "verified", "like_role")
    weight = sum((case((applies, WEIGHTS[name]), else_=0.0) for (applies, _), name in zip(parts, names)),
                 literal(0.0))
    points = sum((case((applies, WEIGHTS[name] * value), else_=0.0) for (applies, value), name in zip(parts, names)),
                 literal(0.0))
    return points / func.greatest(weight, 0.0001)


def likeness():
    """SQL: the likeness of each role's embedding to the talent's `vector` (None where either is missing)."""
    vector = _vector()
    return case((or_(CastingRole.embedding.is_(None), vector.is_(None)), None),
                else_=func.greatest(1.0 - CastingRole.embedding.cosine_distance(vector), 0.0))


def fits():
    """SQL: the role's hard requirements that the talent of `values` meets (gender, age, a required city) and
    the call's eligibility (verified only, agents only)."""
    gender, low, high = (bindparam("gender", type_=CastingRole.gender.type), bindparam("age_low", type_=Integer),
                         bindparam("age_high", type_=Integer))
    return and_(or_(CastingRole.gender.is_(None), CastingRole.gender == gender),
                or_(high.is_(None), CastingRole.age_min.is_(None), CastingRole.age_min <= high),
                or_(low.is_(None), CastingRole.age_max.is_(None), CastingRole.age_max >= low),
                or_(~CastingRole.city_required, CastingRole.city == bindparam("city", type_=String)),
                or_(bindparam("verified", type_=Boolean), CastingCall.eligibility != Eligibility.VERIFIED),
                or_(bindparam("represented", type_=Boolean), CastingCall.eligibility != Eligibility.AGENTS))


def talent_vector(talent_id):
    """The talent's embedding, or None."""
    return db.session.scalar(select(TalentEmbedding.embedding).where(TalentEmbedding.talent_id == talent_id))
