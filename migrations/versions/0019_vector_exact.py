"""A covering index for vector searches with a selective city and gender: ranked exactly, not on the graph.

A filtered HNSW scan hands over about 1 / selectivity candidates per result (for city and gender,
1.9% of a million talent, some 1,300 per page), each a walk through graph neighbours: 56 ms for a
page at 1,000,000. The matching vectors side by side in `(city, gender, talent_id) INCLUDE (embedding)`
are ranked exactly, all 19,000 of them, in an index-only scan of about 18 ms (see docs/benchmark.md).
The narrow `(city, gender, talent_id)` index stays for the bounded count.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_talent_embeddings_exact", "talent_embeddings", ["city", "gender", "talent_id"],
                    postgresql_include=["embedding"])


def downgrade():
    op.drop_index("ix_talent_embeddings_exact", table_name="talent_embeddings")
