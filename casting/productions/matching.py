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
from functools import lru_cache
from itertools import product
from math import prod
from typing import NamedTuple

from sqlalchemy import Date, Float, Integer, Text, bindparam, case, cast, func, literal, null, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from casting.kernel.extensions import db
from casting.talents.models import Availability, Talent, TalentEmbedding
from casting.kernel.fields import PROFICIENCIES
from casting.talents import age_clause, born_between, bounded_count, cache as talent_cache, compact, filter_key

WEIGHTS = {"skills": 0.35, "languages": 0.25, "experience": 0.15, "city": 0.10, "completeness": 0.10,
           "verified": 0.05, "like_role": 0.30}
FULL_EXPERIENCE_YEARS = 10


def _at_least(proficiency):
    return PROFICIENCIES[PROFICIENCIES.index(proficiency):]


class Shape(NamedTuple):
    """What a ranking's SQL depends on: which requirements a role has and how many skills and languages. What
    they ask for is bound (`values`), so each shape's statements are built once (building one cost more CPU
    than running it)."""
    skills: int
    languages: int
    city_scored: bool
    city_required: bool
    like: bool
    gender: bool
    age_min: bool
    age_max: bool


def shape(role):
    city = bool(role.city)
    return Shape(len(_skills(role)), len(role.languages or []), city and not role.city_required,
                 city and bool(role.city_required), role.embedding is not None, role.gender is not None,
                 role.age_min is not None, role.age_max is not None)


def _skills(role):
    return sorted({skill.lower() for skill in role.skills or []})


def _keys(role):
    """The filter keys the role's ranking looks up, by the names `_discrete` gives them."""
    named = {f"skill{n}": filter_key("s", skill) for n, skill in enumerate(_skills(role))}
    for n, wanted in enumerate(role.languages or []):
        spoken = filter_key("l", wanted["name"])
        named[f"language{n}"], named[f"spoken{n}"] = f"{spoken}:{wanted['proficiency']}", spoken
    if role.city:
        named["city"] = filter_key("c", role.city)
    return named


def values(role, named=None):
    """The bound values of the role's ranking statements (`named`: its `_keys`, when already worked out)."""
    born_by, born_after = born_between(role.age_min, role.age_max)
    return {**{name: [key] for name, key in (_keys(role) if named is None else named).items()},
            "gender": role.gender, "age_min": role.age_min, "age_max": role.age_max, "born_by": born_by,
            "born_after": born_after, "vector": role.embedding}


@lru_cache(maxsize=256)
def _discrete(form):
    """The skills, languages and (when it only scores) city as units `(kind, full key, half key)`, keys by their
    names in `_keys`: a talent with the full key earns the unit's whole share, with only the half key half of it."""
    units = [("skills", f"skill{n}", None) for n in range(form.skills)]
    units += [("languages", f"language{n}", f"spoken{n}") for n in range(form.languages)]
    if form.city_scored:
        units.append(("city", "city", None))
    return tuple(units)


def _has(name):
    """SQL: the talent has the key `name` (bound as a one-key array, as `values` binds it)."""
    return Talent.filter_keys.contains(bindparam(name, type_=ARRAY(Text)))


def _soft(form):
    """The names of the soft requirements of roles of this shape, in `_components`' order."""
    return (["skills"] if form.skills else []) + (["languages"] if form.languages else []) + ["experience"] + \
        (["city"] if form.city_scored else []) + ["completeness", "verified"] + (["like_role"] if form.like else [])


def _components(form):
    """(name, SQL expression in 0..1) for each soft requirement of roles of this shape."""
    units, names = _discrete(form), _soft(form)
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
        expressions["city"] = case((_has("city"), 1.0), else_=0.0)
    if "like_role" in names:
        expressions["like_role"] = _likeness()
    return [(name, expressions[name]) for name in names]


def _likeness():
    """Cosine similarity of the talent's embedding to the role's, at least 0 (and 0 without an embedding)."""
    vector = bindparam("vector", type_=TalentEmbedding.embedding.type)
    return func.greatest(1.0 - TalentEmbedding.embedding.cosine_distance(vector), 0.0)


@lru_cache(maxsize=256)
def _weights(form):
    """Each soft requirement's share of the score: its weight, renormalised over those the role has."""
    names = _soft(form)
    total = sum(WEIGHTS[name] for name in names)
    return {name: WEIGHTS[name] / total for name in names}


def score_expression(form):
    weights = _weights(form)
    return sum((expression * weights[name] for name, expression in _components(form)), literal(0.0))


# The talent columns a ranking reads (the topics of `talent_cache.forget`): an edit of any other (a day rate,
# a bio) leaves cached rankings as they are. `location`, `skills` and `languages` make the keys it looks up.
TOPICS = frozenset({talent_cache.ROWS, "availability_status", "gender", "playing_age_min", "playing_age_max",
                    "date_of_birth", "location", "skills", "languages", "experience_years", "profile_score",
                    "is_verified", "embedding"})


@lru_cache(maxsize=256)
def candidates(form):
    """Talent meeting the hard requirements of roles of this shape: live, available, gender, age, city if
    required (bound values: `values`)."""
    query = select(Talent.id).where(Talent.deleted_at.is_(None),
                                    Talent.availability_status == Availability.AVAILABLE)
    if form.gender:
        query = query.where(Talent.gender == bindparam("gender", type_=Talent.gender.type))
    if form.age_min or form.age_max:
        born = (bindparam("born_by", type_=Date), bindparam("born_after", type_=Date))
        query = query.where(age_clause(bindparam("age_min", type_=Integer) if form.age_min else None,
                                       bindparam("age_max", type_=Integer) if form.age_max else None, born))
    if form.city_required:
        query = query.where(_has("city"))
    return query


@lru_cache(maxsize=256)
def _ranked(form):
    score = func.round(cast(score_expression(form), db.Numeric), 4).label("score")
    query = candidates(form)
    if not form.like:
        like = null()
    else:
        query = query.outerjoin(TalentEmbedding, TalentEmbedding.talent_id == Talent.id)
        like = case((TalentEmbedding.talent_id.is_(None), null()),  # GREATEST would make a missing one 0
                    else_=func.round(cast(_likeness(), db.Numeric), 4))
    return query.add_columns(score, like.label("like")).order_by(score.desc(), Talent.id.desc())


def ranked(role):
    """(talent id, score, likeness to the role or None) for every candidate, best first."""
    return _ranked(shape(role)).params(values(role))


def counted(role):
    """(how many talent meet the role's hard requirements, counted up to COUNT_BOUND + 1; whether exact)."""
    return bounded_count(candidates(shape(role)), values(role))


MAX_ARMS = 64  # key sets ORed in one tier's look-up; past it, the tier scores every candidate instead
# Combinations of the role's skills, languages and city (2 states each, 3 for a language) beyond which
# tiers are not made and everyone is scored: making them grows faster than the combinations (10 languages,
# 59,049 of them, took 52 s of CPU in one request; 1,024 take about 15 ms).
MAX_COMBINATIONS = 1024


@lru_cache(maxsize=256)
def tiers(form):
    """[(discrete score at least, [key sets: a talent with every key of one has at least that score])],
    best first, ending with the empty key set (everyone); the discrete score is the skills, languages
    and city part of the score, weights applied; keys by their names in `_keys`."""
    units = _discrete(form)
    states = [((1.0, full), (0.5, half), (0.0, None)) if half else ((1.0, full), (0.0, None))
              for _, full, half in units]
    if prod(len(choices) for choices in states) > MAX_COMBINATIONS:
        return [(0.0, [frozenset()])]
    weights = _weights(form)
    counts = {name: sum(1 for kind, _, _ in units if kind == name) for name in ("skills", "languages", "city")}
    shares = [weights[kind] / counts[kind] for kind, _, _ in units]
    combos = {}
    for choice in product(*states):
        value = round(sum(share * earned for share, (earned, _) in zip(shares, choice)), 9)
        combos.setdefault(value, set()).add(frozenset(key for _, key in choice if key))
    levels, minimal = [], []
    for value in sorted(combos, reverse=True):
        for names in combos[value]:  # keep only the key sets no smaller one already covers
            if not any(other <= names for other in minimal):
                minimal = [other for other in minimal if not names < other] + [names]
        levels.append((value, sorted(minimal, key=sorted)))
    return levels


def continuous_most(form):
    """The most the rest of the score (experience, completeness, verification, likeness) can add."""
    return sum(weight for name, weight in _weights(form).items() if name not in ("skills", "languages", "city"))


@lru_cache(maxsize=256)
def _page(form, arms):
    """The first `:need` rows of the ranking among talent with every key of one of `:arm0`...; with no arms,
    of everyone."""
    query = _ranked(form).limit(bindparam("need", type_=Integer))
    if arms:
        query = query.where(or_(*(Talent.filter_keys.contains(bindparam(f"arm{n}", type_=ARRAY(Text)))
                                  for n in range(arms))))
    return query


def top(role, offset, limit):
    """The rows of `ranked(role)` from `offset` to `offset + limit`, without scoring every candidate."""
    return tiered(role, offset, limit)[0]


def tiered(role, offset, limit):
    """(`top`'s rows, the discrete score of the last tier scored, None when it was every candidate).

    Tier after tier (2, 4, 8... discrete levels at a time) the candidates whose keys promise at
    least that level's discrete score are scored; the page is final when its last score is above
    the next level plus `continuous_most`, which no talent left out can reach (strictly above, as
    equal scores order by id). The last tier is every candidate, as `ranked` does."""
    form, named = shape(role), _keys(role)
    bound = {**values(role, named), "need": offset + limit}
    levels, rest = tiers(form), continuous_most(form)
    # A required city joins the tier's keys (folded into them); availability, gender and age are checked
    # on the few rows the tier finds.
    required = {named["city"]} if form.city_required else set()
    # The first level alone (every key) rarely holds a page; the second holds it and costs about as much.
    index = 1 if len(levels) > 2 else 0
    while True:
        _, arms = levels[index]
        last = index == len(levels) - 1 or len(arms) > MAX_ARMS
        looked_up = {} if last else {f"arm{n}": sorted(compact(sorted({named[name] for name in names} | required)))
                                     for n, names in enumerate(arms)}
        rows = db.session.execute(_page(form, len(looked_up)), {**bound, **looked_up}).all()
        if last:
            return rows[offset:], None
        beyond = levels[index + 1][0] + rest
        if len(rows) == offset + limit and float(rows[-1].score) > beyond + 0.00005 + 1e-9:
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
