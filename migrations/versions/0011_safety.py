"""Trust and safety: verified and suspended accounts, held productions and roles, flagged messages, flags.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ENUMS = {
    "flag_source": ("report", "shield"),
    "flag_status": ("open", "upheld", "dismissed"),
    "flag_target": ("message", "production", "role", "audition", "user"),
    "report_reason": ("money_request", "explicit_request", "fake_casting", "harassment", "impersonation", "other"),
}


def _enum(name):
    return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)


def upgrade():
    op.add_column("users", sa.Column("only_verified_contacts", sa.Boolean(), server_default="false",
                                     nullable=False))
    op.add_column("users", sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("verified_by", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("verification_note", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("reinstated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(op.f("fk_users_verified_by_users"), "users", "users", ["verified_by"], ["id"],
                          ondelete="SET NULL")
    op.add_column("productions", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("production_roles", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("messages", sa.Column("safety", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    for name in ENUMS:
        _enum(name).create(op.get_bind(), checkfirst=True)
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", _enum("flag_source"), nullable=False),
        sa.Column("status", _enum("flag_status"), nullable=False),
        sa.Column("target_type", _enum("flag_target"), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reason", _enum("report_reason"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("outcome_note", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["users.id"], name=op.f("fk_flags_subject_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], name=op.f("fk_flags_reporter_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], name=op.f("fk_flags_resolved_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags")),
    )
    op.create_index("ix_flags_status_created_at", "flags", ["status", "created_at"])
    op.create_index("ix_flags_subject_id_status", "flags", ["subject_id", "status"])
    op.create_index("ix_flags_target_type_target_id", "flags", ["target_type", "target_id"])


def downgrade():
    op.drop_table("flags")
    for name in ENUMS:
        _enum(name).drop(op.get_bind(), checkfirst=True)
    op.drop_column("messages", "safety")
    op.drop_column("production_roles", "held_at")
    op.drop_column("productions", "held_at")
    op.drop_constraint(op.f("fk_users_verified_by_users"), "users", type_="foreignkey")
    for column in ("reinstated_at", "suspended_at", "verification_note", "verified_by", "verified_at",
                   "only_verified_contacts"):
        op.drop_column("users", column)
