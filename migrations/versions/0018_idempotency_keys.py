"""Idempotency keys: a creating request's key, its fingerprint and its first answer; and the partial
indexes the repair sweep reads invitations through (recent ones still open, booked ones).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("principal", "key", name="uq_idempotency_keys_principal"),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False)
    op.create_index("ix_invitations_invited_created_at", "invitations", ["created_at"],
                    postgresql_where=sa.text("status = 'invited'"))
    op.create_index("ix_invitations_accepted_slot_id", "invitations", ["slot_id"],
                    postgresql_where=sa.text("status = 'accepted'"))


def downgrade():
    op.drop_index("ix_invitations_accepted_slot_id", table_name="invitations")
    op.drop_index("ix_invitations_invited_created_at", table_name="invitations")
    op.drop_table("idempotency_keys")
