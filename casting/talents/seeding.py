"""`flask seed talents N`: realistic Indian talent profiles, loaded with COPY (a million in minutes)."""
import json
import random
import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import text

from casting.kernel.extensions import db
from casting.kernel.optional import require
from casting.meta import CITIES, LANGUAGES, SKILLS
from casting.talents.models import TalentEmbedding, profile_score
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


PROGRESS_EVERY = 10_000  # rows between two calls of a `progress` callback


def _no_progress(done, total):
    pass


def seed_talents(count, seed=2026, progress=_no_progress):
    """COPY `count` generated profiles into `talents`; returns how many were written.

    `progress(rows, count)` is called every PROGRESS_EVERY rows, and at the end, with the rows written since.
    """
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
                for number in range(1, count + 1):
                    copy.write_row(_profile(rng, first_names, last_names, now))
                    if number % PROGRESS_EVERY == 0:
                        progress(PROGRESS_EVERY, count)
        connection.commit()
        progress(count % PROGRESS_EVERY, count)
    finally:
        connection.close()
    return count


# Sentence embeddings fill a small part of their space: a few dozen directions explain them (their
# intrinsic dimension is low), topics form clusters of very different sizes, and neighbours are
# clearly nearer than the rest. The seeded vectors are made that way (see docs/benchmark.md), so the index
# is measured on data shaped like what the ML service sends, not on uniform or isotropic noise.
VECTOR_LATENT = 24  # the latent space's dimension, projected to EMBEDDING_DIM by one fixed random matrix
VECTOR_CLUSTERS = 200  # topics, of Zipf-like sizes
VECTOR_NOISE = 0.1  # isotropic noise in the full space, relative to the vector's length
INDEX = "ix_talent_embeddings_hnsw"
_BATCH = 50_000


def _hnsw_index():
    """The model's HNSW index, dropped before a bulk load and built once after it."""
    return next(index for index in TalentEmbedding.__table__.indexes if index.name == INDEX)


def vector_model(dim, seed=2026):
    """A function `make(count, rng)` -> `count` unit vectors of `dim` from the seeded generative model."""
    np = require("numpy", "Seeding vectors")
    rng = np.random.default_rng(seed)
    projection = rng.standard_normal((VECTOR_LATENT, dim)) / np.sqrt(VECTOR_LATENT)
    centres = rng.standard_normal((VECTOR_CLUSTERS, VECTOR_LATENT))
    spreads = rng.uniform(0.3, 0.8, VECTOR_CLUSTERS)  # tight topics and broad ones
    sizes = 1.0 / np.arange(1, VECTOR_CLUSTERS + 1) ** 0.8
    sizes /= sizes.sum()

    def make(count, rng):
        cluster = rng.choice(VECTOR_CLUSTERS, size=count, p=sizes)
        latent = centres[cluster] + rng.standard_normal((count, VECTOR_LATENT)) * spreads[cluster, None]
        vectors = latent @ projection
        length = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors += rng.standard_normal((count, dim)) * (VECTOR_NOISE * length / np.sqrt(dim))
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    return make


def seed_vectors(model, dim, seed=2026, progress=_no_progress):
    """Give every live talent without an embedding one from `vector_model`; returns (added, seconds to
    build the HNSW index, or None when every talent had one already).

    The vectors are made with numpy and loaded with binary COPY (a million in about a minute). The
    index is dropped for the load and built once after it, which is far faster than growing it row by
    row; `index_seconds` is that build. `progress(vectors, total)` is called after every batch loaded.
    """
    np = require("numpy", "Seeding vectors")
    from pgvector.psycopg import register_vector

    with db.engine.begin() as conn:
        ids = conn.execute(text(
            "SELECT t.id FROM talents t WHERE t.deleted_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM talent_embeddings e WHERE e.talent_id = t.id) ORDER BY t.id")
        ).scalars().all()
        if not ids:
            return 0, None
        _hnsw_index().drop(conn, checkfirst=True)
    make, rng = vector_model(dim, seed), np.random.default_rng(seed + 1)
    connection = db.engine.raw_connection()
    try:
        register_vector(connection.driver_connection)
        with connection.cursor() as cursor:
            with cursor.copy("COPY talent_embeddings (talent_id, model, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "varchar", "vector"])
                for start in range(0, len(ids), _BATCH):
                    batch = ids[start:start + _BATCH]
                    for talent_id, vector in zip(batch, make(len(batch), rng)):
                        copy.write_row((talent_id, model, vector))
                    progress(len(batch), len(ids))
        connection.commit()
    finally:
        connection.close()
    started = time.monotonic()
    with db.engine.begin() as conn:
        # The graph is built in memory while it fits (1,000,000 x 384 halfvecs need about 1 GB), much faster.
        conn.execute(text("SET LOCAL maintenance_work_mem = '2GB'"))
        _hnsw_index().create(conn)
    built = time.monotonic() - started
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Statistics, and the visibility map the bounded count's index-only scan needs.
        conn.execute(text("VACUUM ANALYZE talent_embeddings"))
        conn.execute(text("VACUUM ANALYZE talent_embedding_halves"))  # their copies (the exact path's)
    return len(ids), built
