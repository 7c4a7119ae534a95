"""Rank talent for a role: hard requirements filter, soft ones score (0..1) with reasons a person can read.

The score is computed in SQL; the reasons are written from the page's own profiles. A page is the
exact top of the ranking over every candidate without scoring every candidate (`top`): the skills,
languages and city (the "discrete" part of the score) are looked up in the talent's `filter_keys`
index, tier by tier from the best possible discrete score down, and the search stops as soon as the
page's last score beats anything a talent outside the tiers read so far could reach (its discrete
score at most the next tier's, plus full marks for everything else). `ranked` scores everyone: the
reference the bounded search agrees with. Weights apply only where the role says something (a role with no languages
does not score languages), and are renormalised over what applies. A role with an embedding from the
ML service also scores "like this role": the cosine similarity of the talent's embedding to the
role's (0 for talent without one, and never below 0).
"""
from itertools import product
from math import prod

from sqlalchemy import Float, case, cast, func, literal, null, or_, select

from casting.kernel.extensions import db
from casting.talents.models import Availability, Talent, TalentEmbedding
from casting.kernel.fields import PROFICIENCIES
from casting.talents import age_clause, cache as talent_cache, compact, filter_key

WEIGHTS = {"skills": 0.35, "languages": 0.25, "experience": 0.15, "city": 0.10, "completeness": 0.10,
           "verified": 0.05, "like_role": 0.30}
FULL_EXPERIENCE_YEARS = 10


def _at_least(proficiency):
    return PROFICIENCIES[PROFICIENCIES.index(proficiency):]


def _discrete(role):
    """The role's skills, languages and (when it only scores) city as units `(name, full key, half key)`:
    a talent with the full key earns the unit's whole share, with only the half key half of it."""
    units = [("skills", filter_key("s", skill), None)
             for skill in sorted({skill.lower() for skill in role.skills or []})]
    for wanted in role.languages or []:
        spoken = filter_key("l", wanted["name"])
        units.append(("languages", f"{spoken}:{wanted['proficiency']}", spoken))
    if role.city and not role.city_required:
        units.append(("city", filter_key("c", role.city), None))
    return units


def _has(key):
    return Talent.filter_keys.contains([key])


def _soft(role):
    """The names of the soft requirements this role has, in `_components`' order."""
    kinds = {kind for kind, _, _ in _discrete(role)}
    return [name for name in ("skills", "languages") if name in kinds] + ["experience"] + \
        (["city"] if "city" in kinds else []) + ["completeness", "verified"] + \
        (["like_role"] if role.embedding is not None else [])


def _components(role):
    """(name, SQL expression in 0..1) for each soft requirement this role has."""
    units, names = _discrete(role), _soft(role)
    expressions = {"experience": func.least(func.coalesce(Talent.experience_years, 0), FULL_EXPERIENCE_YEARS)
                   / float(FULL_EXPERIENCE_YEARS),
                   "completeness": cast(Talent.profile_score - 40 * cast(Talent.is_verified, db.Integer), Float)
                   / 60.0,
                   "verified": case((Talent.is_verified, 1.0), else_=0.0)}
    for name in {"skills", "languages"} & set(names):
        points = [case((_has(full), 1.0), (_has(half), 0.5), else_=0.0) if half
                  else case((_has(full), 1.0), else_=0.0) for kind, full, half in units if kind == name]
        expressions[name] = sum(points, literal(0.0)) / len(points)
    if "city" in names:
        expressions["city"] = case((_has(filter_key("c", role.city)), 1.0), else_=0.0)
    if "like_role" in names:
        expressions["like_role"] = _likeness(role)
    return [(name, expressions[name]) for name in names]


def _likeness(role):
    """Cosine similarity of the talent's embedding to the role's, at least 0 (and 0 without an embedding)."""
    return func.greatest(1.0 - TalentEmbedding.embedding.cosine_distance(role.embedding), 0.0)


def _weights(role):
    """Each soft requirement's share of the score: its weight, renormalised over those the role has."""
    names = _soft(role)
    total = sum(WEIGHTS[name] for name in names)
    return {name: WEIGHTS[name] / total for name in names}


def score_expression(role):
    weights = _weights(role)
    return sum((expression * weights[name] for name, expression in _components(role)), literal(0.0))


# The talent columns a ranking reads (the topics of `talent_cache.forget`): an edit of any other (a day rate,
# a bio) leaves cached rankings as they are. `location`, `skills` and `languages` make the keys it looks up.
TOPICS = frozenset({talent_cache.ROWS, "availability_status", "gender", "playing_age_min", "playing_age_max",
                    "date_of_birth", "location", "skills", "languages", "experience_years", "profile_score",
                    "is_verified", "embedding"})


def candidates(role):
    """Talent meeting the role's hard requirements: live, available, gender, age, city if required."""
    query = select(Talent.id).where(Talent.deleted_at.is_(None),
                                    Talent.availability_status == Availability.AVAILABLE)
    if role.gender is not None:
        query = query.where(Talent.gender == role.gender)
    if role.age_min is not None or role.age_max is not None:
        query = query.where(age_clause(role.age_min, role.age_max))
    if role.city and role.city_required:
        query = query.where(_has(filter_key("c", role.city)))
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


MAX_ARMS = 64  # key sets ORed in one tier's look-up; past it, the tier scores every candidate instead
# Combinations of the role's skills, languages and city (2 states each, 3 for a language) beyond which
# tiers are not made and everyone is scored: making them grows faster than the combinations (10 languages,
# 59,049 of them, took 52 s of CPU in one request; 1,024 take about 15 ms).
MAX_COMBINATIONS = 1024


def tiers(role):
    """[(discrete score at least, [key sets: a talent with every key of one has at least that score])],
    best first, ending with the empty key set (everyone); the discrete score is the skills, languages
    and city part of the score, weights applied."""
    units = _discrete(role)
    states = [((1.0, full), (0.5, half), (0.0, None)) if half else ((1.0, full), (0.0, None))
              for _, full, half in units]
    if prod(len(choices) for choices in states) > MAX_COMBINATIONS:
        return [(0.0, [frozenset()])]
    weights = _weights(role)
    counts = {name: sum(1 for kind, _, _ in units if kind == name) for name in ("skills", "languages", "city")}
    shares = [weights[kind] / counts[kind] for kind, _, _ in units]
    combos = {}
    for choice in product(*states):
        value = round(sum(share * earned for share, (earned, _) in zip(shares, choice)), 9)
        combos.setdefault(value, set()).add(frozenset(key for _, key in choice if key))
    levels, minimal = [], []
    for value in sorted(combos, reverse=True):
        for keys in combos[value]:  # keep only the key sets no smaller one already covers
            if not any(other <= keys for other in minimal):
                minimal = [other for other in minimal if not keys < other] + [keys]
        levels.append((value, sorted(minimal, key=sorted)))
    return levels


def continuous_most(role):
    """The most the rest of the score (experience, completeness, verification, likeness) can add."""
    return sum(weight for name, weight in _weights(role).items() if name not in ("skills", "languages", "city"))


def top(role, offset, limit):
    """The rows of `ranked(role)` from `offset` to `offset + limit`, without scoring every candidate."""
    return tiered(role, offset, limit)[0]


def tiered(role, offset, limit):
    """(`top`'s rows, the discrete score of the last tier scored, None when it was every candidate).

    Tier after tier (2, 4, 8... discrete levels at a time) the candidates whose keys promise at
    least that level's discrete score are scored; the page is final when its last score is above
    the next level plus `continuous_most`, which no talent left out can reach (strictly above, as
    equal scores order by id). The last tier is every candidate, as `ranked` does."""
    need = offset + limit
    levels, rest = tiers(role), continuous_most(role)
    # The first level alone (every key) rarely holds a page; the second holds it and costs about as much.
    index = 1 if len(levels) > 2 else 0
    everyone = ranked(role).limit(need)  # built once: building the score costs more than a tier's look-up
    while True:
        _, arms = levels[index]
        last = index == len(levels) - 1 or len(arms) > MAX_ARMS
        query = everyone
        if not last:
            # A required city joins the tier's keys (folded into them); availability, gender and age are
            # checked on the few rows the tier finds.
            required = {filter_key("c", role.city)} if role.city and role.city_required else set()
            query = query.where(or_(*(Talent.filter_keys.contains(sorted(compact(sorted(keys | required))))
                                      for keys in arms)))
        rows = db.session.execute(query).all()
        if last:
            return rows[offset:], None
        beyond = levels[index + 1][0] + rest
        if len(rows) == need and float(rows[-1].score) > beyond + 0.00005 + 1e-9:
            return rows[offset:], levels[index][0]
        index = min(len(levels) - 1, 2 * index + 1)


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
