"""Chat attachments: images (checked, stripped of metadata, thumbnailed) and PDFs, in the media storage.

An upload belongs to its uploader until a message of theirs carries it; from then on the participants
of that conversation, and nobody else, can fetch it.
"""
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath

from flask import current_app
from sqlalchemy import exists, select
from werkzeug.utils import secure_filename

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.media import check_pdf, is_pdf, PDF_CONTENT_TYPE
from casting.media import CONTENT_TYPES, process, read_limited
from casting.media import file_storage as storage
from casting.messaging.models import Attachment, AttachmentKind, Message, Participant
from casting.kernel.text import plain

ACCEPTED = [*CONTENT_TYPES.values(), PDF_CONTENT_TYPE]


def _name(filename, extension):
    """A safe display name with the extension the content really has."""
    stem = PurePosixPath(secure_filename(plain(filename or "")) or "attachment").stem[:120] or "attachment"
    return f"{stem}.{extension}"


@dataclass(frozen=True)
class _Checked:
    kind: AttachmentKind
    content_type: str
    extension: str
    data: bytes
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None


def _checked(data):
    """The upload as it will be stored: a checked PDF, or a clean re-encoded image with its thumbnail."""
    if is_pdf(data):
        check_pdf(data)
        return _Checked(AttachmentKind.PDF, PDF_CONTENT_TYPE, "pdf", data)
    try:
        picture = process(data, current_app.config["MEDIA_MAX_PIXELS"])
    except ApiError as error:
        if error.error is Codes.MEDIA_UNSUPPORTED and error.details:  # not an image at all
            raise ApiError(Codes.MEDIA_UNSUPPORTED, "Only JPEG, PNG or WebP images or PDFs are accepted "
                                                    "(judged by content).", details={"accepted": ACCEPTED}) from None
        raise
    return _Checked(AttachmentKind.IMAGE, picture.content_type, picture.extension, picture.data,
                    picture.thumbnail, picture.width, picture.height)


def upload(user, file):
    """Check and store one uploaded file for `user`; returns the attachment, not yet in any message."""
    checked = _checked(read_limited(file.stream, current_app.config["MEDIA_MAX_BYTES"]))
    stem = f"attachments/{user.id}/{uuid.uuid4().hex}"
    key, thumbnail_key = f"{stem}.{checked.extension}", f"{stem}-thumb.webp" if checked.thumbnail else None
    stored = []
    try:
        storage().save(key, checked.data, checked.content_type)
        stored.append(key)
        if thumbnail_key:
            storage().save(thumbnail_key, checked.thumbnail, "image/webp")
            stored.append(thumbnail_key)
        attachment = Attachment(uploader_id=user.id, kind=checked.kind, name=_name(file.filename, checked.extension),
                                key=key, thumbnail_key=thumbnail_key, content_type=checked.content_type,
                                size_bytes=len(checked.data), width=checked.width, height=checked.height)
        db.session.add(attachment)
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage().forget(*stored)
        raise
    return attachment


def claim(user, attachment_ids):
    """Lock `user`'s unsent attachments by id, for a message about to be stored; 404/409 otherwise."""
    if not attachment_ids:
        return []
    found = db.session.scalars(select(Attachment).where(Attachment.id.in_(attachment_ids),
                                                        Attachment.uploader_id == user.id)
                               .order_by(Attachment.id).with_for_update()).all()
    missing = sorted(set(attachment_ids) - {attachment.id for attachment in found})
    if missing:
        raise ApiError(Codes.ATTACHMENT_NOT_FOUND, details={"attachment_ids": missing})
    used = [attachment.id for attachment in found if attachment.message_id is not None]
    if used:
        raise ApiError(Codes.ATTACHMENT_IN_USE, details={"attachment_ids": used})
    return found


def readable(attachment_id, user):
    """The attachment if `user` uploaded it or is in the conversation of the message carrying it; else 404."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise ApiError(Codes.ATTACHMENT_NOT_FOUND)
    if attachment.uploader_id == user.id:
        return attachment
    shared = attachment.message_id is not None and db.session.scalar(select(exists().where(
        Message.id == attachment.message_id, Participant.conversation_id == Message.conversation_id,
        Participant.user_id == user.id)))
    if not shared:
        raise ApiError(Codes.ATTACHMENT_NOT_FOUND)
    return attachment
