"""Open casting calls: calls on roles, submissions, the team's private notes, the roles-for-me digest.

Revision ID: 0016
Revises: 0013
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ENUMS = {
    "call_status": ("open", "closed"),
    "call_category": ("lead", "supporting", "background", "model", "voice", "dancer", "musician", "other"),
    "call_eligibility": ("all", "verified", "agents"),
    "submission_status": ("submitted", "viewed", "shortlisted", "declined", "invited", "withdrawn"),
}


def _enum(name):
    return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)


def upgrade():
    op.execute("ALTER TYPE flag_target ADD VALUE IF NOT EXISTS 'call'")
    for name in ENUMS:
        _enum(name).create(op.get_bind(), checkfirst=True)
    op.create_table(
        "casting_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("production_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("status", _enum("call_status"), nullable=False),
        sa.Column("category", _enum("call_category"), nullable=False),
        sa.Column("eligibility", _enum("call_eligibility"), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("requires_headshot", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("portfolio_min", sa.Integer(), server_default="0", nullable=False),
        sa.Column("requires_cover_note", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("questions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("submission_cap", sa.Integer(), nullable=True),
        sa.Column("submission_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("remote", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("self_tape", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("submission_cap IS NULL OR submission_cap > 0", name=op.f("ck_casting_calls_cap_positive")),
        sa.CheckConstraint("portfolio_min >= 0 AND portfolio_min <= 10",
                           name=op.f("ck_casting_calls_portfolio_min_range")),
        sa.ForeignKeyConstraint(["role_id"], ["production_roles.id"], name=op.f("fk_casting_calls_role_id_production_roles"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["production_id"], ["productions.id"],
                                name=op.f("fk_casting_calls_production_id_productions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_casting_calls_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casting_calls")),
        sa.UniqueConstraint("role_id", name=op.f("uq_casting_calls_role_id")),
    )
    op.create_index(op.f("ix_casting_calls_production_id"), "casting_calls", ["production_id"])
    op.create_index("ix_casting_calls_open_deadline", "casting_calls", ["deadline", "id"],
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index("ix_casting_calls_open_created", "casting_calls", [sa.text("created_at DESC"), sa.text("id DESC")],
                    postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        "call_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("talent_id", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("status", _enum("submission_status"), nullable=False),
        sa.Column("headshot_id", sa.Integer(), nullable=True),
        sa.Column("portfolio_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cover_note", sa.Text(), nullable=True),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("self_tape_id", sa.Integer(), nullable=True),
        sa.Column("match_score", sa.Float(), server_default="0", nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["casting_calls.id"], name=op.f("fk_call_submissions_call_id_casting_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["talent_id"], ["talents.id"], name=op.f("fk_call_submissions_talent_id_talents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], name=op.f("fk_call_submissions_submitted_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["headshot_id"], ["talent_media.id"],
                                name=op.f("fk_call_submissions_headshot_id_talent_media"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_submissions")),
        sa.UniqueConstraint("call_id", "talent_id", name="one_submission_per_talent"),
    )
    op.create_index(op.f("ix_call_submissions_talent_id"), "call_submissions", ["talent_id"])
    op.create_index(op.f("ix_call_submissions_submitted_by"), "call_submissions", ["submitted_by"])
    op.create_index("ix_call_submissions_call_created", "call_submissions",
                    ["call_id", sa.text("created_at DESC"), sa.text("id DESC")])
    op.create_index("ix_call_submissions_call_score", "call_submissions",
                    ["call_id", sa.text("match_score DESC"), sa.text("id DESC")])
    op.create_table(
        "call_submission_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_call_submission_notes_rating_range")),
        sa.ForeignKeyConstraint(["submission_id"], ["call_submissions.id"],
                                name=op.f("fk_call_submission_notes_submission_id_call_submissions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_call_submission_notes_author_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_submission_notes")),
    )
    op.create_index(op.f("ix_call_submission_notes_submission_id"), "call_submission_notes", ["submission_id"])
    op.create_table(
        "call_digest_subscriptions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", postgresql.ENUM(name="notification_channel", create_type=False), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_call_digest_subscriptions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_call_digest_subscriptions")),
    )


def downgrade():
    op.drop_table("call_digest_subscriptions")
    op.drop_table("call_submission_notes")
    op.drop_table("call_submissions")
    op.drop_table("casting_calls")
    for name in reversed(list(ENUMS)):
        _enum(name).drop(op.get_bind(), checkfirst=True)
    op.execute("DELETE FROM flags WHERE target_type = 'call'")
    # PostgreSQL cannot drop one value of an enum: rebuild flag_target without 'call'
    op.execute("ALTER TYPE flag_target RENAME TO flag_target_old")
    op.execute("CREATE TYPE flag_target AS ENUM ('message', 'production', 'role', 'audition', 'user')")
    op.execute("ALTER TABLE flags ALTER COLUMN target_type TYPE flag_target USING target_type::text::flag_target")
    op.execute("DROP TYPE flag_target_old")
