import enum
from datetime import date, datetime

from sqlalchemy import (CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, func,
                        select, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db
from casting.productions.models import Production
from casting.users.models import User


class AuditionMode(str, enum.Enum):
    IN_PERSON = "in_person"
    VIRTUAL = "virtual"
    SELF_TAPE = "self_tape"


class AuditionStatus(str, enum.Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class InvitationStatus(str, enum.Enum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    RESCHEDULE_REQUESTED = "reschedule_requested"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    SHORTLISTED = "shortlisted"
    CALLBACK = "callback"
    SELECTED = "selected"
    REJECTED = "rejected"


class Audition(db.Model):
    __tablename__ = "auditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    production_id: Mapped[int] = mapped_column(ForeignKey("productions.id", ondelete="RESTRICT"), index=True)
    role_id: Mapped[int | None] = mapped_column(ForeignKey("production_roles.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    mode: Mapped[AuditionMode] = mapped_column(pg_enum(AuditionMode, "audition_mode"))
    location: Mapped[dict | None] = mapped_column(JSONB)
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    instructions: Mapped[str | None] = mapped_column(Text)
    scheduled_date: Mapped[date | None] = mapped_column(Date, index=True)
    duration_minutes: Mapped[int | None]
    tape_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # self-tapes due by then
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Kolkata", server_default="Asia/Kolkata")
    status: Mapped[AuditionStatus] = mapped_column(pg_enum(AuditionStatus, "audition_status"),
                                                   default=AuditionStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    slots: Mapped[list["AuditionSlot"]] = relationship(order_by="AuditionSlot.start_at",
                                                       cascade="all, delete-orphan", passive_deletes=True)


class AuditionSlot(db.Model):
    __tablename__ = "audition_slots"
    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        CheckConstraint("start_at < end_at", name="start_before_end"),
        UniqueConstraint("audition_id", "start_at", name="one_slot_per_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audition_id: Mapped[int] = mapped_column(ForeignKey("auditions.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0, server_default="0")


class Invitation(db.Model):
    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("audition_id", "talent_id", name="one_invitation_per_talent"),
        # the repair sweep's two questions (casting.auditions.repair): recent invitations still open, and
        # booked slots; each a small part of the table
        Index("ix_invitations_invited_created_at", "created_at", postgresql_where=text("status = 'invited'")),
        Index("ix_invitations_accepted_slot_id", "slot_id", postgresql_where=text("status = 'accepted'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audition_id: Mapped[int] = mapped_column(ForeignKey("auditions.id", ondelete="CASCADE"), index=True)
    talent_id: Mapped[int] = mapped_column(ForeignKey("talents.id", ondelete="CASCADE"), index=True)
    status: Mapped[InvitationStatus] = mapped_column(pg_enum(InvitationStatus, "invitation_status"),
                                                     default=InvitationStatus.INVITED)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("audition_slots.id", ondelete="SET NULL"), index=True)
    waitlist_position: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None]
    # the self-tape sent for a self_tape audition (casting/tapes); replaced until the deadline
    tape_id: Mapped[int | None] = mapped_column(ForeignKey("tapes.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    slot: Mapped[AuditionSlot | None] = relationship()
    history: Mapped[list["InvitationEvent"]] = relationship(order_by="InvitationEvent.id",
                                                            cascade="all, delete-orphan", passive_deletes=True)


class InvitationEvent(db.Model):
    """One status change of an invitation: who, when, from, to."""

    __tablename__ = "invitation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[InvitationStatus | None] = mapped_column(pg_enum(InvitationStatus, "invitation_status"))
    to_status: Mapped[InvitationStatus] = mapped_column(pg_enum(InvitationStatus, "invitation_status"))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)


class CalendarFeed(db.Model):
    """A secret, revocable URL a calendar app subscribes to; only the token's hash is kept."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


Audition.is_verified = column_property(
    select(User.verified_at.is_not(None)).join(Production, Production.owner_id == User.id)
    .where(Production.id == Audition.production_id).scalar_subquery())
