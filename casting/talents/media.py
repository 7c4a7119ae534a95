"""A talent's images: upload (checked, stripped, thumbnailed, stored), delete, and their URLs in responses.

Files are stored before the row is written and removed again if the write fails; a replaced headshot's
files are removed only after the new row is committed. Nothing is left half-written either way.
"""
import uuid

from flask import current_app

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.media import process, read_limited
from casting.media import file_storage as storage
from casting.talents import cache as talent_cache
from casting.talents.models import MediaKind, TalentMedia
from casting.talents.services import can_manage, get_live


def _managed_talent(talent_id, user, lock=False):
    talent = get_live(talent_id, lock=lock)
    if not can_manage(talent, user):
        raise ApiError(Codes.AUTH_FORBIDDEN)
    return talent


def _store(talent_id, picture):
    """Save the image and its thumbnail; returns their keys."""
    stem = f"talents/{talent_id}/{uuid.uuid4().hex}"
    keys = (f"{stem}.{picture.extension}", f"{stem}-thumb.webp")
    files = storage()
    files.save(keys[0], picture.data, picture.content_type)
    try:
        files.save(keys[1], picture.thumbnail, "image/webp")
    except Exception:
        files.forget(keys[0])
        raise
    return keys


def _make_room(talent, kind):
    """The headshot being replaced (to delete after commit), or 409 if the portfolio is full."""
    if kind == MediaKind.HEADSHOT:
        return next((item for item in talent.media if item.kind == MediaKind.HEADSHOT), None)
    limit = current_app.config["MEDIA_PORTFOLIO_MAX"]
    # `talent.media` is read by a statement of its own once the talent's row lock is held, and every upload takes
    # that lock first: no other can add one meanwhile (a test uploads four at once)
    if sum(item.kind == MediaKind.PORTFOLIO for item in talent.media) >= limit:
        raise ApiError(Codes.MEDIA_LIMIT, details={"max_portfolio": limit})
    return None


def add(talent_id, user, kind, upload):
    """Check and store an uploaded image for a talent the user manages (a new headshot replaces the old); returns
    the new image's snapshot, taken before the commit expires the rows (reading them again is two statements)."""
    _managed_talent(talent_id, user)
    data = read_limited(upload.stream, current_app.config["MEDIA_MAX_BYTES"])
    picture = process(data, current_app.config["MEDIA_MAX_PIXELS"])
    db.session.rollback()  # end the read transaction: no row lock is held while the files upload
    keys = _store(talent_id, picture)
    try:
        talent = _managed_talent(talent_id, user, lock=True)
        replaced = _make_room(talent, kind)
        if replaced is not None:
            talent.media.remove(replaced)
            db.session.flush()
        item = TalentMedia(kind=kind, key=keys[0], thumbnail_key=keys[1], content_type=picture.content_type,
                           width=picture.width, height=picture.height, size_bytes=len(picture.data))
        score = talent.profile_score
        talent.media.append(item)
        talent.refresh_derived()
        db.session.flush()
        added, owner, listed = item.snapshot(), talent.user_id, _listed_changes(talent, score)
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage().forget(*keys)
        raise
    if replaced is not None:
        storage().forget(replaced.key, replaced.thumbnail_key)
    talent_cache.forget(talent_id, owner, listed)
    return added


def remove(talent_id, media_id, user):
    talent = _managed_talent(talent_id, user, lock=True)
    item = next((item for item in talent.media if item.id == media_id), None)
    if item is None:
        raise ApiError(Codes.MEDIA_NOT_FOUND)
    score = talent.profile_score
    talent.media.remove(item)
    talent.refresh_derived()
    # the commit expires the talent: reading it after would be another select
    owner, listed = talent.user_id, _listed_changes(talent, score)
    db.session.commit()
    storage().forget(item.key, item.thumbnail_key)
    talent_cache.forget(talent_id, owner, listed)


def _listed_changes(talent, score_before):
    """The columns a photo changed that lists read (`talent_cache.forget`'s topics): none, unless a headshot came
    or went and moved the profile score (and so the row's last update). The profile's own entries go either way."""
    return {"profile_score", "updated_at"} if talent.profile_score != score_before else set()
