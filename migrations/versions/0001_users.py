"""Extensions pg_trgm and vector, and the users table.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

EXTENSIONS = {
    "pg_trgm": "pg_trgm ships with PostgreSQL's contrib modules (Debian: postgresql-contrib)",
    "vector": "pgvector: install the postgresql-<version>-pgvector package or build it from "
              "https://github.com/pgvector/pgvector, or leave DATABASE_URL unset to use the "
              "embedded PostgreSQL, which has it",
}
ROLES = ("talent", "casting_director", "producer", "agent", "admin")


def _create_extensions():
    bind = op.get_bind()
    available = set(bind.execute(sa.text("SELECT name FROM pg_available_extensions")).scalars())
    missing = [name for name in EXTENSIONS if name not in available]
    if missing:
        raise RuntimeError("This PostgreSQL server lacks the extension(s) the app needs: " + "; ".join(
            f"{name} ({EXTENSIONS[name]})" for name in missing))
    for name in EXTENSIONS:
        op.execute(sa.text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))


def upgrade():
    _create_extensions()
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("full_name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("role", sa.Enum(*ROLES, name="user_role"), nullable=False),
        sa.Column("phone_verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("email_verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name=op.f("ck_users_email_or_phone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("phone", name=op.f("uq_users_phone")),
    )


def downgrade():
    op.drop_table("users")
    sa.Enum(name="user_role").drop(op.get_bind(), checkfirst=True)
    for name in reversed(list(EXTENSIONS)):
        op.execute(sa.text(f'DROP EXTENSION IF EXISTS "{name}"'))
