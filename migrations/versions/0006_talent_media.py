"""Talent media (headshot and portfolio images), the featured ranking, and a newest-first index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The same score Talent.refresh_derived computes, for the rows that exist before this revision.
BACKFILL_SCORE = """
UPDATE talents SET profile_score = 40 * is_verified::int + round(60 * (
    (coalesce(bio, '') <> '')::int + (gender IS NOT NULL)::int + (date_of_birth IS NOT NULL)::int
    + (height_cm IS NOT NULL)::int + (location <> '{}'::jsonb)::int + (skills <> '[]'::jsonb)::int
    + (languages <> '[]'::jsonb)::int + (experience_years IS NOT NULL)::int) / 9.0)
"""


def upgrade():
    op.create_table(
        "talent_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talent_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("headshot", "portfolio", name="talent_media_kind"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talents.id"], name=op.f("fk_talent_media_talent_id_talents"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_media")),
    )
    op.create_index(op.f("ix_talent_media_talent_id"), "talent_media", ["talent_id"], unique=False)
    op.create_index("uq_talent_media_headshot", "talent_media", ["talent_id"], unique=True,
                    postgresql_where=sa.text("kind = 'headshot'"))
    op.add_column("talents", sa.Column("profile_score", sa.Integer(), server_default="0", nullable=False))
    op.execute(BACKFILL_SCORE)
    op.create_index("ix_talents_featured_rank", "talents",
                    [sa.literal_column("is_featured DESC"), sa.literal_column("profile_score DESC"),
                     sa.literal_column("updated_at DESC"), sa.literal_column("id DESC")],
                    unique=False, postgresql_where=sa.text("deleted_at IS NULL"))
    # The default order is (created_at DESC, id DESC): an index on created_at alone sorts every row
    # that shares a timestamp (a bulk load shares one) before it can return the first page.
    op.drop_index("ix_talents_live_created_at", table_name="talents")
    op.create_index("ix_talents_live_newest", "talents",
                    [sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
                    unique=False, postgresql_where=sa.text("deleted_at IS NULL"))


def downgrade():
    op.drop_index("ix_talents_live_newest", table_name="talents")
    op.create_index("ix_talents_live_created_at", "talents", ["created_at"], unique=False,
                    postgresql_where=sa.text("deleted_at IS NULL"))
    op.drop_index("ix_talents_featured_rank", table_name="talents")
    op.drop_column("talents", "profile_score")
    op.drop_table("talent_media")
    sa.Enum(name="talent_media_kind").drop(op.get_bind(), checkfirst=True)
