"""Faster vector search: a half-precision HNSW index, and the city and gender filters beside the vectors.

The HNSW index moves to an expression on `embedding::halfvec(dim)`: half the size (a 1,000,000-vector
graph of 384 dimensions fits in memory), the same neighbours to within the float16 rounding, which the
search removes by re-ranking its candidates on the full vectors. `city` and `gender` are copied from
the talent (by triggers, so no code path can forget them; a soft-deleted talent's vector goes too,
so a row here is a live talent's and a search filtered only on these counts here alone) so an index scan rejects the candidates of
another city or gender on the row it has already read, instead of joining each one to `talents`; the
btree on them makes the bounded count of a filtered vector search a short index scan.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    dim = int(current_app.config["EMBEDDING_DIM"])
    op.add_column("talent_embeddings", sa.Column("city", sa.Text(), nullable=True))
    op.add_column("talent_embeddings", sa.Column(
        "gender", sa.Enum(name="talent_gender", create_type=False), nullable=True))
    op.execute("""
        CREATE FUNCTION talent_embeddings_filters() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SELECT t.location ->> 'city', t.gender INTO NEW.city, NEW.gender FROM talents t WHERE t.id = NEW.talent_id;
            RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER talent_embeddings_filters BEFORE INSERT OR UPDATE OF talent_id ON talent_embeddings
        FOR EACH ROW EXECUTE FUNCTION talent_embeddings_filters()""")
    op.execute("""
        CREATE FUNCTION talents_embedding_filters() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.deleted_at IS NOT NULL THEN
                DELETE FROM talent_embeddings WHERE talent_id = NEW.id;
            ELSE
                UPDATE talent_embeddings SET city = NEW.location ->> 'city', gender = NEW.gender
                WHERE talent_id = NEW.id;
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER talents_embedding_filters AFTER UPDATE OF location, gender, deleted_at ON talents
        FOR EACH ROW WHEN (OLD.location IS DISTINCT FROM NEW.location OR OLD.gender IS DISTINCT FROM NEW.gender
                           OR NEW.deleted_at IS NOT NULL)
        EXECUTE FUNCTION talents_embedding_filters()""")
    op.execute("UPDATE talent_embeddings e SET city = t.location ->> 'city', gender = t.gender "
               "FROM talents t WHERE t.id = e.talent_id")
    op.create_index("ix_talent_embeddings_filters", "talent_embeddings", ["city", "gender", "talent_id"])
    op.drop_index("ix_talent_embeddings_hnsw", table_name="talent_embeddings")
    op.execute(f"CREATE INDEX ix_talent_embeddings_hnsw ON talent_embeddings USING hnsw "  # nosec B608 - an int
               f"((embedding::halfvec({dim})) halfvec_cosine_ops)")


def downgrade():
    op.drop_index("ix_talent_embeddings_hnsw", table_name="talent_embeddings")
    op.create_index("ix_talent_embeddings_hnsw", "talent_embeddings", ["embedding"], postgresql_using="hnsw",
                    postgresql_ops={"embedding": "vector_cosine_ops"})
    op.drop_index("ix_talent_embeddings_filters", table_name="talent_embeddings")
    op.execute("DROP TRIGGER talents_embedding_filters ON talents")
    op.execute("DROP FUNCTION talents_embedding_filters()")
    op.execute("DROP TRIGGER talent_embeddings_filters ON talent_embeddings")
    op.execute("DROP FUNCTION talent_embeddings_filters()")
    op.drop_column("talent_embeddings", "gender")
    op.drop_column("talent_embeddings", "city")
