"""Auditions at scale: the date filter and sort read an index on `scheduled_date`.

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-30
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_auditions_scheduled_date", "auditions", ["scheduled_date"])


def downgrade():
    op.drop_index("ix_auditions_scheduled_date", table_name="auditions")
