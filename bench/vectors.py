"""Vector search at scale: `python -m bench.vectors` on the benchmark database (run by `make bench`).

Ranks talent by cosine similarity to BENCH_VECTOR_QUERIES query vectors with a city and gender filter,
through the service's own search (`services.search_page`: the query, the bounded count, the profiles),
one query at a time, each vector new (so no cached page answers). Reports p50/p99, the path the service
takes (the covering index's exact ranking for a selective filter, else the HNSW index), recall@20 against
the exact ranking (index scans off), and the indexes' sizes.
"""
import json
import os
import random
import statistics
import time

from sqlalchemy import func, select, text

QUERIES = int(os.environ.get("BENCH_VECTOR_QUERIES", "200"))
RECALL_QUERIES = int(os.environ.get("BENCH_VECTOR_RECALL", "50"))
FILTERS = {"city": "Mumbai", "gender": "female"}
K = 20


def _queries(db, TalentEmbedding, count, rng):
    """Query vectors near real ones: a random talent's (unit) embedding plus noise of a third of its length."""
    total = db.session.scalar(select(func.max(TalentEmbedding.talent_id)))
    vectors = []
    while len(vectors) < count:
        found = db.session.scalar(select(TalentEmbedding.embedding).where(
            TalentEmbedding.talent_id == rng.randrange(1, total + 1)))
        if found is not None:
            scale = 0.33 / len(found) ** 0.5
            vectors.append([float(x) + rng.gauss(0, scale) for x in found])
    db.session.rollback()
    return vectors


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _plan(db, query):
    """EXPLAIN of a select, its parameters bound as SQLAlchemy would (vectors, JSONB)."""
    compiled = query.compile(dialect=db.engine.dialect)
    processors = compiled._bind_processors
    params = {name: processors[name](value) if name in processors else value
              for name, value in compiled.params.items()}
    with db.engine.connect() as conn:
        cursor = conn.connection.cursor()
        cursor.execute("EXPLAIN " + compiled.string, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def measure():
    from casting import create_app
    from casting.kernel.extensions import db
    from casting.talents import embeddings, services
    from casting.talents.models import TalentEmbedding

    app = create_app()
    rng = random.Random(15)
    with app.app_context():
        vectors = db.session.scalar(select(func.count()).select_from(TalentEmbedding))
        size = db.session.scalar(text("SELECT pg_relation_size('ix_talent_embeddings_hnsw')"))
        # The exact path's half-precision copies: their table and its covering index.
        exact_size = db.session.scalar(text("SELECT pg_relation_size('talent_embedding_halves') "
                                            "+ pg_relation_size('ix_talent_embedding_halves_exact')"))
        ranks_exactly = embeddings.ranks_exactly(FILTERS)  # the path the service takes for these filters
        queries = _queries(db, TalentEmbedding, QUERIES, rng)
        plan = _plan(db, services.search({**FILTERS, "embedding": queries[0]}, queries[0]).limit(K))
        timings, found = [], []
        for vector in queries:
            started = time.perf_counter()
            records, _, _ = services.search_page({**FILTERS, "embedding": vector, "page": 1, "per_page": K})
            db.session.rollback()
            timings.append((time.perf_counter() - started) * 1000)
            found.append([record["id"] for record in records])
        recalls = []
        for vector, got in list(zip(queries, found))[:RECALL_QUERIES]:
            exact = db.session.scalars(services.search({**FILTERS, "embedding": vector}, vector, exact=True)
                                       .with_only_columns(services.Talent.id).limit(K)).all()  # no index
            db.session.rollback()
            recalls.append(len(set(got) & set(exact)) / max(1, len(exact)))
        embeddings.scan_settings()
        ef = db.session.scalar(text("SHOW hnsw.ef_search"))
        db.session.rollback()
    path = ("exact (half-precision copies, re-ranked)" if ranks_exactly
            else "hnsw" if "ix_talent_embeddings_hnsw" in plan else "exact")
    return {"vectors": vectors, "index_mb": round(size / 2**20, 1), "exact_index_mb": round(exact_size / 2**20, 1),
            "queries": len(timings),
            "p50_ms": round(statistics.median(timings), 1), "p99_ms": round(percentile(timings, 0.99), 1),
            "recall_at_20": round(sum(recalls) / len(recalls), 3), "min_recall": round(min(recalls), 3),
            "path": path, "ef_search": ef}


def report(result, seeded):
    return (f"vector search, {FILTERS['city']} + {FILTERS['gender']}, k={K}, {result['vectors']:,} vectors "
            f"of 384: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms over {result['queries']} queries "
            f"(plan: {result['path']}; HNSW: ef_search {result['ef_search']}, relaxed scans re-ranked); "
            f"recall@20 {result['recall_at_20']} (lowest {result['min_recall']}); HNSW index {result['index_mb']} MB, "
            f"half-precision copies and their covering index {result['exact_index_mb']} MB; {seeded}")


if __name__ == "__main__":
    print(json.dumps(measure()))
