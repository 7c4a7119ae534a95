"""Conversations, their participants, messages (bodies encrypted at rest), read receipts and attachments."""
import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, UniqueConstraint, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db
from casting.kernel.pii import EncryptedString
from casting.users.models import User


class Conversation(db.Model):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    audition_id: Mapped[int | None] = mapped_column(ForeignKey("auditions.id", ondelete="SET NULL"), index=True)
    # "low:high:audition" for a 1:1 conversation, so the same two people (and audition) get one; null for groups
    direct_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    participants: Mapped[list["Participant"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Participant(db.Model):
    __tablename__ = "conversation_participants"
    __table_args__ = (Index("ix_conversation_participants_user_id", "user_id"),)

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_read_message_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "sender_id", "client_id",
                         name="uq_messages_conversation_id_sender_id_client_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str | None] = mapped_column(EncryptedString)
    client_id: Mapped[str] = mapped_column(String(64))
    safety: Mapped[dict | None] = mapped_column(JSONB)  # the scam shield's warning, when it flagged the message
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attachments: Mapped[list["Attachment"]] = relationship(order_by="Attachment.id", lazy="selectin")


Message.is_verified = column_property(func.coalesce(
    select(User.verified_at.is_not(None)).where(User.id == Message.sender_id).scalar_subquery(), False))


class MessageRead(db.Model):
    """One participant has read one message (their own messages are never listed)."""

    __tablename__ = "message_reads"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AttachmentKind(str, enum.Enum):
    IMAGE = "image"
    PDF = "pdf"


class Attachment(db.Model):
    """An uploaded file, owned by its uploader until a message carries it; then its conversation's."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AttachmentKind] = mapped_column(pg_enum(AttachmentKind, "attachment_kind"))
    name: Mapped[str] = mapped_column(EncryptedString)
    key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
