"""PII at rest: users' email and phone encrypted with blind indexes; notification recipients encrypted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

from casting.kernel.pii import blind_index, decrypt, encrypt

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _each(table, columns):
    return op.get_bind().execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}")).all()


def _set(table, row_id, values):
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    statement = sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id")
    op.get_bind().execute(statement, {"id": row_id, **values})


def upgrade():
    for name in ("email", "phone"):
        op.add_column("users", sa.Column(f"{name}_encrypted", sa.Text(), nullable=True))
        op.add_column("users", sa.Column(f"{name}_index", sa.String(64), nullable=True))
    for row_id, email, phone in _each("users", ["email", "phone"]):
        _set("users", row_id, {
            "email_encrypted": email and encrypt(email), "email_index": email and blind_index(email),
            "phone_encrypted": phone and encrypt(phone), "phone_index": phone and blind_index(phone)})
    op.drop_constraint(op.f("ck_users_email_or_phone"), "users", type_="check")
    op.drop_column("users", "email")
    op.drop_column("users", "phone")
    op.create_unique_constraint(op.f("uq_users_email_index"), "users", ["email_index"])
    op.create_unique_constraint(op.f("uq_users_phone_index"), "users", ["phone_index"])
    op.create_check_constraint(op.f("ck_users_email_or_phone"), "users",
                               "email_index IS NOT NULL OR phone_index IS NOT NULL")
    op.alter_column("notifications", "recipient", type_=sa.Text(), existing_nullable=False)
    for row_id, recipient in _each("notifications", ["recipient"]):
        _set("notifications", row_id, {"recipient": encrypt(recipient)})


def downgrade():
    for row_id, recipient in _each("notifications", ["recipient"]):
        _set("notifications", row_id, {"recipient": decrypt(recipient)})
    op.alter_column("notifications", "recipient", type_=sa.String(254), existing_nullable=False)
    op.add_column("users", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("users", sa.Column("phone", sa.String(16), nullable=True))
    for row_id, email, phone in _each("users", ["email_encrypted", "phone_encrypted"]):
        _set("users", row_id, {"email": email and decrypt(email), "phone": phone and decrypt(phone)})
    op.drop_constraint(op.f("ck_users_email_or_phone"), "users", type_="check")
    for name in ("email", "phone"):
        op.drop_constraint(op.f(f"uq_users_{name}_index"), "users", type_="unique")
        op.drop_column("users", f"{name}_encrypted")
        op.drop_column("users", f"{name}_index")
    op.create_unique_constraint(op.f("uq_users_email"), "users", ["email"])
    op.create_unique_constraint(op.f("uq_users_phone"), "users", ["phone"])
    op.create_check_constraint(op.f("ck_users_email_or_phone"), "users",
                               "email IS NOT NULL OR phone IS NOT NULL")
