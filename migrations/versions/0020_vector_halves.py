"""Half-precision copies of the talent vectors for the exact ranking of a selective city and gender.

The exact path (0019) ranked every matching vector in an index-only scan of
`(city, gender, talent_id) INCLUDE (embedding)`: at 1,000,000 talent about 18 ms for the 19,000 of
one city and gender, most of it reading 1.5 kB a vector. A copy in half precision beside the city and
gender, `talent_embedding_halves`, has them in half the pages; the search ranks on it, then re-ranks
the first few on the full vectors (see `casting.talents.embeddings.exact_page`), and 0019's covering
index goes (the bounded count reads the narrow `ix_talent_embeddings_filters`).

A trigger keeps each copy with its vector, city and gender (inserts, updates, and the talent's moves,
which reach `talent_embeddings` by its own trigger); the foreign key drops it with the vector.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from flask import current_app
from pgvector.sqlalchemy import HALFVEC
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    dim = int(current_app.config["EMBEDDING_DIM"])
    op.create_table(
        "talent_embedding_halves",
        sa.Column("talent_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("gender", postgresql.ENUM(name="talent_gender", create_type=False), nullable=True),
        sa.Column("embedding", HALFVEC(dim), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talent_embeddings.talent_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("talent_id"),
    )
    op.execute("""
        CREATE FUNCTION talent_embedding_halves_copy() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.talent_id <> NEW.talent_id THEN
                DELETE FROM talent_embedding_halves WHERE talent_id = OLD.talent_id;
            END IF;
            INSERT INTO talent_embedding_halves (talent_id, city, gender, embedding)
            VALUES (NEW.talent_id, NEW.city, NEW.gender, NEW.embedding::halfvec)
            ON CONFLICT (talent_id) DO UPDATE
            SET city = EXCLUDED.city, gender = EXCLUDED.gender, embedding = EXCLUDED.embedding;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER talent_embedding_halves_copy AFTER INSERT OR UPDATE OF talent_id, embedding, city, gender
        ON talent_embeddings FOR EACH ROW EXECUTE FUNCTION talent_embedding_halves_copy()""")
    op.execute("INSERT INTO talent_embedding_halves (talent_id, city, gender, embedding) "
               "SELECT talent_id, city, gender, embedding::halfvec FROM talent_embeddings ORDER BY city, gender, talent_id")
    op.create_index("ix_talent_embedding_halves_exact", "talent_embedding_halves", ["city", "gender", "talent_id"],
                    postgresql_include=["embedding"])
    op.drop_index("ix_talent_embeddings_exact", table_name="talent_embeddings")
    with op.get_context().autocommit_block():
        # The visibility map (else the index-only scan visits the heap for every row) and statistics.
        op.execute("VACUUM ANALYZE talent_embedding_halves")


def downgrade():
    op.create_index("ix_talent_embeddings_exact", "talent_embeddings", ["city", "gender", "talent_id"],
                    postgresql_include=["embedding"])
    op.execute("DROP TRIGGER talent_embedding_halves_copy ON talent_embeddings")
    op.execute("DROP FUNCTION talent_embedding_halves_copy()")
    op.drop_index("ix_talent_embedding_halves_exact", table_name="talent_embedding_halves")
    op.drop_table("talent_embedding_halves")
