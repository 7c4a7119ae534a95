"""Image uploads checked by their content, re-encoded without metadata (EXIF, GPS, XMP), with a thumbnail.

What an upload may cost is bounded before any pixel is decoded: its bytes (MEDIA_MAX_BYTES) while it
is read, its pixels (MEDIA_MAX_PIXELS) from the header Pillow reads lazily. Decoding then shrinks the
picture to MAX_SIDE as it loads (JPEG's DCT scaling through `draft`, then `reduce`), so one full-size
bitmap is the most it ever holds, and every copy after that is of the stored size. The work runs on
the media pool (`casting.media.pool`), off the gevent loop.
"""
import io
from dataclasses import dataclass

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from casting.kernel.errors import ApiError, Codes
from casting.media.pool import offload

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# WebP at effort 2 of 6: half the encoding time of the default 4 for 2 % more bytes on a photo
SAVE_OPTIONS = {"JPEG": {"quality": 88, "optimize": True}, "PNG": {"optimize": True},
                "WEBP": {"quality": 85, "method": 2}}
THUMBNAIL_OPTIONS = {"quality": 80, "method": 2}
MAX_SIDE = 4096
THUMBNAIL_SIDE = 400


@dataclass(frozen=True)
class Picture:
    data: bytes
    thumbnail: bytes
    format: str
    width: int
    height: int

    @property
    def content_type(self):
        return CONTENT_TYPES[self.format]

    @property
    def extension(self):
        return EXTENSIONS[self.format]


def read_limited(stream, max_bytes):
    """The upload's bytes, or 413 as soon as it is longer than `max_bytes`."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(Codes.MEDIA_TOO_LARGE, details={"max_bytes": max_bytes})
    return data


def _open(data, max_pixels):
    """Open `data` as one of the accepted formats, judged by its bytes; 415 otherwise, 413 if too many pixels."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(CONTENT_TYPES))
    except Image.DecompressionBombError:
        raise ApiError(Codes.MEDIA_TOO_LARGE, "The image has too many pixels.",
                       details={"max_pixels": max_pixels}) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ApiError(Codes.MEDIA_UNSUPPORTED, details={"accepted": list(CONTENT_TYPES.values())}) from None
    if image.width * image.height > max_pixels:
        image.close()
        raise ApiError(Codes.MEDIA_TOO_LARGE, "The image has too many pixels.", details={"max_pixels": max_pixels})
    return image


def _decode(image):
    """The pixels, shrunk to fit MAX_SIDE as they load; 415 if the data is damaged or truncated."""
    try:
        if image.mode in ("1", "P"):  # palette pixels resize badly: expand them first
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
        image.thumbnail((MAX_SIDE, MAX_SIDE))  # draft (JPEG), then reduce and resize, in place
        image.load()  # (thumbnail leaves a picture that already fits unloaded)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ApiError(Codes.MEDIA_UNSUPPORTED, "The image is damaged or truncated.") from None
    return image


def _clean(image, image_format):
    """Upright pixels only: orientation applied, then a fresh image that carries no metadata at all."""
    image = _decode(image)
    ImageOps.exif_transpose(image, in_place=True)  # the decoded pixels are ours: no copy to turn them
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return clean


def _encode(image, image_format, **options):
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def process(data, max_pixels):
    """Check, strip and re-encode an uploaded image, and make its thumbnail (WebP), on the media pool."""
    return offload(current_app.config["MEDIA_WORKERS"], _process, data, max_pixels)


def _process(data, max_pixels):
    with _open(data, max_pixels) as image:
        image_format = image.format
        clean = _clean(image, image_format)
    thumbnail = clean.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return Picture(data=_encode(clean, image_format, **SAVE_OPTIONS[image_format]),
                   thumbnail=_encode(thumbnail, "WEBP", **THUMBNAIL_OPTIONS), format=image_format,
                   width=clean.width, height=clean.height)
