"""A self-tape: one uploaded video, from its parts to the web-friendly MP4 and poster the worker makes."""
import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db


class TapeStatus(str, enum.Enum):
    UPLOADING = "uploading"    # parts arriving; resumable until VIDEO_UPLOAD_HOURS, then cleaned up
    QUEUED = "queued"          # every part in, waiting for the worker
    PROCESSING = "processing"  # probed and being made web-friendly (`progress` moves)
    READY = "ready"            # the MP4 and poster are there to watch
    REJECTED = "rejected"      # not a video, or too long: `failure_code` says which
    FAILED = "failed"          # a video the worker could not convert


class Tape(db.Model):
    __tablename__ = "tapes"
    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
        Index("ix_tapes_uploading_created", "created_at", postgresql_where=text("status = 'uploading'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    talent_id: Mapped[int] = mapped_column(ForeignKey("talents.id", ondelete="CASCADE"), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[TapeStatus] = mapped_column(pg_enum(TapeStatus, "tape_status"), default=TapeStatus.UPLOADING)
    progress: Mapped[int] = mapped_column(default=0, server_default="0")
    failure_code: Mapped[str | None] = mapped_column(String(32))
    failure_message: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int]
    part_count: Mapped[int]
    upload_key: Mapped[str] = mapped_column(String(300))   # where the raw upload is put together
    upload_id: Mapped[str | None] = mapped_column(String(1024))  # S3's multipart upload id
    video_key: Mapped[str | None] = mapped_column(String(300))
    poster_key: Mapped[str | None] = mapped_column(String(300))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None]
    height: Mapped[int | None]
    probe: Mapped[dict | None] = mapped_column(JSONB)  # what the upload was: container, codecs, size
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
