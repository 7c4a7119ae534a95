import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, validates

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db
from casting.notifications.models import Channel
from casting.kernel.pii import EncryptedString, blind_index


class Role(str, enum.Enum):
    TALENT = "talent"
    CASTING_DIRECTOR = "casting_director"
    PRODUCER = "producer"
    AGENT = "agent"
    ADMIN = "admin"


class User(db.Model):
    """A person. Email and phone are stored encrypted, and found through their blind indexes."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email_index IS NOT NULL OR phone_index IS NOT NULL",
                                      name="email_or_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column("email_encrypted", EncryptedString)
    email_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column("phone_encrypted", EncryptedString)
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(pg_enum(Role, "user_role"))
    phone_verified: Mapped[bool] = mapped_column(default=False, server_default="false")
    email_verified: Mapped[bool] = mapped_column(default=False, server_default="false")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    # how to reach this person when they are away (null: WhatsApp with a phone, else email)
    notify_channel: Mapped[Channel | None] = mapped_column(pg_enum(Channel, "notification_channel"))
    # a talent who wants new conversations only from verified casting accounts
    only_verified_contacts: Mapped[bool] = mapped_column(default=False, server_default="false")
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verification_note: Mapped[str | None] = mapped_column(EncryptedString)  # the evidence, for admins only
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reinstated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    @property
    def is_verified(self):
        return self.verified_at is not None

    @property
    def is_suspended(self):
        return self.suspended_at is not None

    @validates("email", "phone")
    def _index_contact(self, key, value):
        """Keep each blind index in step with its (already normalised) value."""
        setattr(self, f"{key}_index", blind_index(value) if value else None)
        return value
