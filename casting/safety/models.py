"""Flags: a user's report or the scam shield's automatic finding, in one admin queue."""
import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db


class FlagSource(str, enum.Enum):
    REPORT = "report"
    SHIELD = "shield"


class FlagStatus(str, enum.Enum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class FlagTarget(str, enum.Enum):
    MESSAGE = "message"
    PRODUCTION = "production"
    ROLE = "role"
    AUDITION = "audition"
    USER = "user"
    CALL = "call"


class ReportReason(str, enum.Enum):
    MONEY_REQUEST = "money_request"
    EXPLICIT_REQUEST = "explicit_request"
    FAKE_CASTING = "fake_casting"
    HARASSMENT = "harassment"
    IMPERSONATION = "impersonation"
    OTHER = "other"


class Flag(db.Model):
    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_status_created_at", "status", "created_at"),
                      Index("ix_flags_subject_id_status", "subject_id", "status"),
                      Index("ix_flags_target_type_target_id", "target_type", "target_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[FlagSource] = mapped_column(pg_enum(FlagSource, "flag_source"))
    status: Mapped[FlagStatus] = mapped_column(pg_enum(FlagStatus, "flag_status"), default=FlagStatus.OPEN)
    target_type: Mapped[FlagTarget] = mapped_column(pg_enum(FlagTarget, "flag_target"))
    target_id: Mapped[int]
    # the account answerable for the target: a message's sender, a production's owner, a reported user
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[ReportReason | None] = mapped_column(pg_enum(ReportReason, "report_reason"))
    note: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[dict | None] = mapped_column(JSONB)  # the shield's verdict: reasons and rule ids
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome_note: Mapped[str | None] = mapped_column(String(1000))
