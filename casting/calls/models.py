"""Casting calls, submissions to them, the team's private notes, and the roles-for-me digest's subscribers."""
import enum
from datetime import datetime

from sqlalchemy import (CheckConstraint, DateTime, Float, ForeignKey, Index, Text, UniqueConstraint, func,
                        text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db
from casting.notifications.models import Channel


class CallStatus(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Eligibility(str, enum.Enum):
    """Who may submit: any talent (or their agent), verified talent only, or agents only."""

    ALL = "all"
    VERIFIED = "verified"
    AGENTS = "agents"


class CallCategory(str, enum.Enum):
    LEAD = "lead"
    SUPPORTING = "supporting"
    BACKGROUND = "background"
    MODEL = "model"
    VOICE = "voice"
    DANCER = "dancer"
    MUSICIAN = "musician"
    OTHER = "other"


class SubmissionStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    VIEWED = "viewed"
    SHORTLISTED = "shortlisted"
    DECLINED = "declined"
    INVITED = "invited"  # invited to an audition: the audition's invitation carries it on
    WITHDRAWN = "withdrawn"


class CastingCall(db.Model):
    """A role opened to submissions until `deadline` (or until closed by hand, or the role is cast)."""

    __tablename__ = "casting_calls"
    __table_args__ = (
        CheckConstraint("submission_cap IS NULL OR submission_cap > 0", name="cap_positive"),
        CheckConstraint("portfolio_min >= 0 AND portfolio_min <= 10", name="portfolio_min_range"),
        Index("ix_casting_calls_open_deadline", "deadline", "id", postgresql_where=text("status = 'open'")),
        Index("ix_casting_calls_open_created", text("created_at DESC"), text("id DESC"),
              postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("production_roles.id", ondelete="CASCADE"), unique=True)
    production_id: Mapped[int] = mapped_column(ForeignKey("productions.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[CallStatus] = mapped_column(pg_enum(CallStatus, "call_status"), default=CallStatus.OPEN)
    category: Mapped[CallCategory] = mapped_column(pg_enum(CallCategory, "call_category"),
                                                   default=CallCategory.OTHER)
    eligibility: Mapped[Eligibility] = mapped_column(pg_enum(Eligibility, "call_eligibility"),
                                                     default=Eligibility.ALL)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    details: Mapped[str | None] = mapped_column(Text)  # what the team wants to see, in their words
    requires_headshot: Mapped[bool] = mapped_column(default=True, server_default="true")
    portfolio_min: Mapped[int] = mapped_column(default=0, server_default="0")
    requires_cover_note: Mapped[bool] = mapped_column(default=False, server_default="false")
    questions: Mapped[list] = mapped_column(JSONB, default=list)  # up to five strings, each needs an answer
    submission_cap: Mapped[int | None]
    submission_count: Mapped[int] = mapped_column(default=0, server_default="0")  # live (not withdrawn) ones
    remote: Mapped[bool] = mapped_column(default=False, server_default="false")
    self_tape: Mapped[bool] = mapped_column(default=False, server_default="false")
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # by the scam shield, until reviewed
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    role = relationship("CastingRole")
    production = relationship("Production")


class Submission(db.Model):
    """One talent's submission to a call (one per talent per call, whoever sent it)."""

    __tablename__ = "call_submissions"
    __mapper_args__ = {"eager_defaults": True}  # the INSERT returns the timestamps: no read after it
    __table_args__ = (
        UniqueConstraint("call_id", "talent_id", name="one_submission_per_talent"),
        Index("ix_call_submissions_call_created", "call_id", text("created_at DESC"), text("id DESC")),
        Index("ix_call_submissions_call_score", "call_id", text("match_score DESC"), text("id DESC")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("casting_calls.id", ondelete="CASCADE"))
    talent_id: Mapped[int] = mapped_column(ForeignKey("talents.id", ondelete="CASCADE"), index=True)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[SubmissionStatus] = mapped_column(pg_enum(SubmissionStatus, "submission_status"),
                                                     default=SubmissionStatus.SUBMITTED)
    headshot_id: Mapped[int | None] = mapped_column(ForeignKey("talent_media.id", ondelete="SET NULL"))
    portfolio_ids: Mapped[list] = mapped_column(JSONB, default=list)
    cover_note: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[list] = mapped_column(JSONB, default=list)
    # The self-tape attached to the submission (casting/tapes); null: none yet.
    self_tape_id: Mapped[int | None] = mapped_column(ForeignKey("tapes.id", ondelete="SET NULL"), index=True)
    match_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    rating: Mapped[int | None]  # the team's latest 1-5, private
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[list["SubmissionNote"]] = relationship(order_by="SubmissionNote.id", lazy="selectin",
                                                         cascade="all, delete-orphan", passive_deletes=True)


class SubmissionNote(db.Model):
    """A casting team member's private note (and optional rating) on a submission."""

    __tablename__ = "call_submission_notes"
    __table_args__ = (CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("call_submissions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DigestSubscription(db.Model):
    """A talent who asked for the daily digest of new roles for them, and on which channel."""

    __tablename__ = "call_digest_subscriptions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[Channel] = mapped_column(pg_enum(Channel, "notification_channel"))
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
