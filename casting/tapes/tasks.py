"""The worker's side of self-tapes: checking and converting an upload, and clearing abandoned uploads.

Jobs take ids and are idempotent: a tape that is not waiting for the worker is left as it is.
"""
import logging
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update

from casting.kernel.extensions import db
from casting.kernel.jobs import periodic
from casting.media import file_storage as storage
from casting.tapes import video
from casting.tapes.models import Tape, TapeStatus
from casting.tapes.uploads import uploads

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 2


def _now():
    return datetime.now(timezone.utc)


def _set(tape_id, **values):
    db.session.execute(update(Tape).where(Tape.id == tape_id).values(**values))
    db.session.commit()


def process_tape(tape_id):
    """Probe the upload, refuse what is not a video or is too long, convert it to a web-friendly MP4 with a
    poster, and say how it went on the tape's status; the raw upload is deleted either way."""
    tape = db.session.get(Tape, tape_id, with_for_update=True)
    if tape is None or tape.status != TapeStatus.QUEUED:
        db.session.rollback()
        return tape.status.value if tape else "gone"
    tape.status, tape.progress = TapeStatus.PROCESSING, 0
    db.session.commit()
    config = current_app.config
    made = []
    try:
        with uploads().local_copy(tape) as source, tempfile.TemporaryDirectory(prefix="tape-work-") as work:
            info = video.probe(config["FFPROBE_BIN"], source)
            _set(tape.id, probe=info, duration_seconds=info["duration"])
            if info["duration"] > config["VIDEO_MAX_SECONDS"]:
                raise video.MediaRefused("too_long", f"The video is {info['duration']:.0f} seconds long; "
                                         f"at most {config['VIDEO_MAX_SECONDS']} are taken.")
            target, still = Path(work) / "tape.mp4", Path(work) / "poster.jpg"
            width, height = video.transcode(config["FFMPEG_BIN"], source, target, info,
                                            on_progress=_progress_reporter(tape.id))
            converted = video.probe(config["FFPROBE_BIN"], target)
            if converted["duration"] < info["duration"] * 0.9 - 0.5:
                raise video.MediaFailed("The video is cut short: only part of it could be read.")
            video.poster(config["FFMPEG_BIN"], target, still, converted["duration"])
            stem = f"tapes/{tape.talent_id}/{tape.id}/{uuid.uuid4().hex}"
            files = storage()
            for key, path, content_type in ((f"{stem}.mp4", target, "video/mp4"),
                                            (f"{stem}.jpg", still, "image/jpeg")):
                files.save_file(key, path, content_type)
                made.append(key)
        old = [key for key in (tape.video_key, tape.poster_key) if key]
        _set(tape.id, status=TapeStatus.READY, progress=100, video_key=made[0], poster_key=made[1], width=width,
             height=height, duration_seconds=converted["duration"], failure_code=None, failure_message=None,
             processed_at=_now())
        storage().forget(*old)
        return "ready"
    except video.MediaRefused as refused:
        _settle(tape.id, made, TapeStatus.REJECTED, refused.code, refused.message)
        return "rejected"
    except video.MediaFailed as failed:
        _settle(tape.id, made, TapeStatus.FAILED, "unconvertible", str(failed))
        return "failed"
    except Exception:
        _settle(tape.id, made, TapeStatus.FAILED, "internal", "Something went wrong on our side; upload it again.")
        raise
    finally:
        _discard_upload(tape)


def _settle(tape_id, made, status, code, message):
    db.session.rollback()
    storage().forget(*made)
    _set(tape_id, status=status, failure_code=code, failure_message=message, processed_at=_now())


def _discard_upload(tape):
    """The raw upload may carry location metadata: it goes once the worker is done with it."""
    uploads().abort(tape)
    storage().forget(tape.upload_key)


def _progress_reporter(tape_id):
    last = {"at": 0.0, "percent": 0}

    def report(fraction):
        percent = min(99, int(fraction * 100))
        now = time.monotonic()
        if percent > last["percent"] and now - last["at"] >= PROGRESS_EVERY_SECONDS:
            last.update(at=now, percent=percent)
            _set(tape_id, progress=percent)
    return report


@periodic("VIDEO_PRUNE_MINUTES")
def prune_abandoned_uploads(batch_size=100):
    """Uploads not completed within VIDEO_UPLOAD_HOURS: the multipart upload is aborted (S3) or its parts
    deleted (disk), then the tape row goes."""
    cutoff = _now() - timedelta(hours=current_app.config["VIDEO_UPLOAD_HOURS"])
    pruned = 0
    while tapes := db.session.scalars(select(Tape).where(Tape.status == TapeStatus.UPLOADING,
                                                         Tape.created_at < cutoff)
                                      .limit(batch_size).with_for_update(skip_locked=True)).all():
        flow = uploads()
        for tape in tapes:
            flow.abort(tape)
            db.session.delete(tape)
        db.session.commit()
        pruned += len(tapes)
    return pruned
