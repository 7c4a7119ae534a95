"""The talent search indexes merge their pending entries at 256 kB instead of PostgreSQL's 4 MB.

A GIN index with `fastupdate` (the default) adds new entries to a pending list, merged into the index
when the list passes `gin_pending_list_limit` or at a vacuum, and every scan reads the whole list. With
profile edits (none of them HOT: `updated_at` is indexed) the lists grew to 4 MB between merges and
the seed query took 10 ms at 100,000 talents instead of 1.0 ms, 17 ms at 1,000,000 instead of 6.5. At
256 kB a scan reads at most 32 pending pages (the seed query about 2 ms at worst at 100,000), and an
edit costs 0.65 ms of PostgreSQL's time in `pgbench` instead of 0.47 ms (1.0 ms with `fastupdate` off).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

INDEXES = ("ix_talents_filter_keys", "ix_talents_search_words", "ix_talents_seed")


def upgrade():
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} SET (gin_pending_list_limit = 256)")
        op.execute(f"SELECT gin_clean_pending_list('{name}')")


def downgrade():
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} RESET (gin_pending_list_limit)")
