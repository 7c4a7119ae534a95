"""Self-tapes: the tapes table, where a tape attaches (an audition invitation, a call submission), and when a
self-tape audition's tapes are due.

Revision ID: 0017
Revises: 0016 (it needs call_submissions; the merge re-chains the numbers)
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

STATUSES = ("uploading", "queued", "processing", "ready", "rejected", "failed")


def upgrade():
    status = postgresql.ENUM(*STATUSES, name="tape_status", create_type=False)
    status.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "tapes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talent_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("status", status, nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failure_code", sa.String(length=32), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.Integer(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("upload_key", sa.String(length=300), nullable=False),
        sa.Column("upload_id", sa.String(length=1024), nullable=True),
        sa.Column("video_key", sa.String(length=300), nullable=True),
        sa.Column("poster_key", sa.String(length=300), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("probe", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
        sa.ForeignKeyConstraint(["talent_id"], ["talents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tapes_talent_id", "tapes", ["talent_id"])
    op.create_index("ix_tapes_uploading_created", "tapes", ["created_at"],
                    postgresql_where=sa.text("status = 'uploading'"))
    op.add_column("auditions", sa.Column("tape_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("invitations", sa.Column("tape_id", sa.Integer(), nullable=True))
    op.create_foreign_key("invitations_tape_id_fkey", "invitations", "tapes", ["tape_id"], ["id"], ondelete="SET NULL")
    op.create_index("ix_invitations_tape_id", "invitations", ["tape_id"])
    op.create_foreign_key("call_submissions_self_tape_id_fkey", "call_submissions", "tapes", ["self_tape_id"], ["id"],
                          ondelete="SET NULL")
    op.create_index("ix_call_submissions_self_tape_id", "call_submissions", ["self_tape_id"])


def downgrade():
    op.drop_index("ix_call_submissions_self_tape_id", table_name="call_submissions")
    op.drop_constraint("call_submissions_self_tape_id_fkey", "call_submissions", type_="foreignkey")
    op.drop_index("ix_invitations_tape_id", table_name="invitations")
    op.drop_constraint("invitations_tape_id_fkey", "invitations", type_="foreignkey")
    op.drop_column("invitations", "tape_id")
    op.drop_column("auditions", "tape_due_at")
    op.drop_index("ix_tapes_uploading_created", table_name="tapes")
    op.drop_index("ix_tapes_talent_id", table_name="tapes")
    op.drop_table("tapes")
    postgresql.ENUM(name="tape_status").drop(op.get_bind(), checkfirst=True)
