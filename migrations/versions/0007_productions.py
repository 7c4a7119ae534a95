"""Productions and their roles, owned by the casting director or producer who made them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "productions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("type", sa.Enum("film", "web_series", "tv", "ad", "theatre", "music_video", "other", name="production_type"), nullable=False),
        sa.Column("language", sa.String(length=40), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.Enum("draft", "casting", "closed", name="production_status"), nullable=False),
        sa.Column("shoot_start", sa.Date(), nullable=True),
        sa.Column("shoot_end", sa.Date(), nullable=True),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("shoot_start IS NULL OR shoot_end IS NULL OR shoot_start <= shoot_end", name=op.f("ck_productions_shoot_dates")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_productions_owner_id_users"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_productions")),
    )
    op.create_index(op.f("ix_productions_owner_id"), "productions", ["owner_id"], unique=False)
    op.create_index(op.f("ix_productions_status"), "productions", ["status"], unique=False)
    op.create_table(
        "production_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("production_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("gender", postgresql.ENUM(name="talent_gender", create_type=False), nullable=True),
        sa.Column("age_min", sa.Integer(), nullable=True),
        sa.Column("age_max", sa.Integer(), nullable=True),
        sa.Column("skills", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("languages", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("city_required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.Enum("open", "filled", "closed", name="role_status"), nullable=False),
        sa.Column("pay_inr", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("age_min IS NULL OR age_max IS NULL OR age_min <= age_max", name=op.f("ck_production_roles_age_range")),
        sa.ForeignKeyConstraint(["production_id"], ["productions.id"], name=op.f("fk_production_roles_production_id_productions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_roles")),
    )
    op.create_index(op.f("ix_production_roles_production_id"), "production_roles", ["production_id"], unique=False)


def downgrade():
    op.drop_table("production_roles")
    op.drop_table("productions")
    for name in ("role_status", "production_status", "production_type"):
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
