"""`flask seed talents N`: realistic Indian talent profiles, loaded with COPY (a million in minutes)."""
import json
import random
import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import text

from casting.extensions import db
from casting.optional import require
from casting.meta.catalog import CITIES, LANGUAGES, SKILLS
from casting.talents.models import profile_score
from casting.talents.schemas import PROFICIENCIES

COLUMNS = ("stage_name", "bio", "gender", "date_of_birth", "playing_age_min", "playing_age_max", "height_cm",
           "location", "skills", "skill_keys", "languages", "language_keys", "experience_years",
           "availability_status", "day_rate_inr", "is_verified", "search_text", "profile_score", "created_at",
           "updated_at")


def _profile(rng, first_names, last_names, now):
    gender = rng.choices(["female", "male", "non_binary", "other"], [48, 48, 2, 2])[0]
    first = rng.choice(first_names[gender if gender in first_names else "female"])
    name = f"{first} {rng.choice(last_names)}"
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 50))
    age = (date.today() - born).days // 365
    low = max(5, age - rng.randrange(2, 8))
    skills = rng.sample(SKILLS, rng.randrange(1, 5))
    languages = [{"name": language, "proficiency": rng.choice(PROFICIENCIES)}
                 for language in rng.sample(LANGUAGES, rng.randrange(1, 4))]
    city, state = rng.choice(CITIES)
    bio = f"{rng.choice(['Trained', 'Self-taught', 'NSD-trained', 'FTII alumnus'])} performer from {city}."
    row = (name, bio, gender, born, low, low + rng.randrange(4, 12), rng.randrange(145, 195),
           json.dumps({"city": city, "state": state, "country": "India"}), json.dumps(skills),
           json.dumps(sorted({s.lower() for s in skills})), json.dumps(languages),
           json.dumps(sorted({entry["name"].lower() for entry in languages})), rng.randrange(0, 30),
           rng.choices(["available", "busy", "unavailable"], [70, 20, 10])[0],
           rng.randrange(20, 500) * 100, rng.random() < 0.15, f"{name} {bio} {' '.join(skills)}".lower())
    joined = now - timedelta(seconds=rng.randrange(730 * 86400))  # profiles made over two years
    updated = joined + (now - joined) * rng.random()
    return (*row, profile_score(dict(zip(COLUMNS, row)), has_headshot=False), joined, updated)


def seed_talents(count, seed=2026):
    """COPY `count` generated profiles into `talents`; returns how many were written."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    fake = require("faker", "Seeding talent profiles").Faker("en_IN")
    fake.seed_instance(seed)
    first_names = {"female": [fake.first_name_female() for _ in range(400)],
                   "male": [fake.first_name_male() for _ in range(400)]}
    last_names = [fake.last_name() for _ in range(300)]
    connection = db.engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY talents ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for _ in range(count):
                    copy.write_row(_profile(rng, first_names, last_names, now))
        connection.commit()
    finally:
        connection.close()
    return count


VECTOR_CLUSTERS = 64
INDEX = "ix_talent_embeddings_hnsw"


def seed_vectors(model, dim, seed=2026):
    """Give every talent without an embedding a random one, made in the database; returns (added, seconds to
    build the HNSW index, or None when every talent had one already).

    The vectors lie around VECTOR_CLUSTERS centres (as sentence embeddings do; uniform noise has no
    near neighbours to find). The index is dropped for the load and built once after it, which is
    far faster than growing it row by row; `index_seconds` is that build.
    """
    with db.engine.begin() as conn:
        missing = conn.execute(text(
            "SELECT count(*) FROM talents t WHERE t.deleted_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM talent_embeddings e WHERE e.talent_id = t.id)")).scalar()
        if not missing:
            return 0, None
        conn.execute(text("SELECT setseed(:seed)"), {"seed": (seed % 1000) / 1000})
        conn.execute(text(f"DROP INDEX IF EXISTS {INDEX}"))  # nosec B608 - a fixed name
        added = conn.execute(text(
            "WITH centres AS (SELECT c, array_agg(random() * 2 - 1 ORDER BY d) AS v "
            "  FROM generate_series(0, :clusters - 1) c, generate_series(1, :dim) d GROUP BY c) "
            "INSERT INTO talent_embeddings (talent_id, model, embedding) "
            "SELECT t.id, :model, (SELECT array_agg(centres.v[d] + (random() - 0.5) * 0.8 ORDER BY d) "
            "                      FROM generate_series(1, :dim) d)::vector "
            "FROM talents t JOIN centres ON centres.c = t.id % :clusters "
            "WHERE t.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM talent_embeddings e WHERE e.talent_id = t.id)"),
            {"clusters": VECTOR_CLUSTERS, "dim": dim, "model": model}).rowcount
    started = time.monotonic()
    with db.engine.begin() as conn:
        # The graph is built in memory while it fits (1,000,000 x 384 needs about 1.6 GB), much faster.
        conn.execute(text("SET LOCAL maintenance_work_mem = '2GB'"))
        conn.execute(text(f"CREATE INDEX {INDEX} ON talent_embeddings USING hnsw "  # nosec B608 - a fixed name
                          "(embedding vector_cosine_ops)"))
        conn.execute(text("ANALYZE talent_embeddings"))
    return added, time.monotonic() - started
