"""Talents: profiles with JSONB location, skills and languages, and the indexes search needs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "talents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("stage_name", sa.String(length=120), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("gender", sa.Enum("female", "male", "non_binary", "other", name="talent_gender"), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("playing_age_min", sa.Integer(), nullable=True),
        sa.Column("playing_age_max", sa.Integer(), nullable=True),
        sa.Column("height_cm", sa.Integer(), nullable=True),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("skills", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("skill_keys", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("languages", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("language_keys", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("experience_years", sa.Integer(), nullable=True),
        sa.Column("availability_status", sa.Enum("available", "busy", "unavailable", name="talent_availability"), nullable=False),
        sa.Column("day_rate_inr", sa.Integer(), nullable=True),
        sa.Column("is_verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("is_featured", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("playing_age_min IS NULL OR playing_age_max IS NULL OR playing_age_min <= playing_age_max", name=op.f("ck_talents_playing_age_range")),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_talents_agent_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_talents_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talents")),
        sa.UniqueConstraint("user_id", name=op.f("uq_talents_user_id"))
    )
    op.create_index(op.f("ix_talents_agent_id"), "talents", ["agent_id"], unique=False)
    op.create_index("ix_talents_availability_status", "talents", ["availability_status"], unique=False)
    op.create_index("ix_talents_language_keys", "talents", ["language_keys"], unique=False, postgresql_using="gin", postgresql_ops={"language_keys": "jsonb_path_ops"})
    op.create_index("ix_talents_live_created_at", "talents", ["created_at"], unique=False, postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_index("ix_talents_location", "talents", ["location"], unique=False, postgresql_using="gin", postgresql_ops={"location": "jsonb_path_ops"})
    op.create_index("ix_talents_search_text", "talents", ["search_text"], unique=False, postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"})
    op.create_index("ix_talents_skill_keys", "talents", ["skill_keys"], unique=False, postgresql_using="gin", postgresql_ops={"skill_keys": "jsonb_path_ops"})
    op.create_index("ix_talents_skills", "talents", ["skills"], unique=False, postgresql_using="gin", postgresql_ops={"skills": "jsonb_path_ops"})


def downgrade():
    op.drop_table("talents")
    sa.Enum(name="talent_availability").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="talent_gender").drop(op.get_bind(), checkfirst=True)
