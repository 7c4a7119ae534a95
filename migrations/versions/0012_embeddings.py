"""Embeddings for the ML service: one vector per talent (HNSW, cosine) and one per role.

The vector columns take their dimension from EMBEDDING_DIM at the time this migration runs; a
different dimension later means a new migration and embedding everything again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op
from flask import current_app
from pgvector.sqlalchemy import Vector

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    dim = current_app.config["EMBEDDING_DIM"]
    op.create_table(
        "talent_embeddings",
        sa.Column("talent_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("embedding", Vector(dim), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("talent_id"),
    )
    op.create_index("ix_talent_embeddings_hnsw", "talent_embeddings", ["embedding"], postgresql_using="hnsw",
                    postgresql_ops={"embedding": "vector_cosine_ops"})
    op.add_column("production_roles", sa.Column("embedding", Vector(dim), nullable=True))
    op.add_column("production_roles", sa.Column("embedding_model", sa.String(length=100), nullable=True))
    op.add_column("production_roles", sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("production_roles", "embedded_at")
    op.drop_column("production_roles", "embedding_model")
    op.drop_column("production_roles", "embedding")
    op.drop_index("ix_talent_embeddings_hnsw", table_name="talent_embeddings")
    op.drop_table("talent_embeddings")
