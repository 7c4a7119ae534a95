"""PDF uploads, judged by their bytes: a PDF header and end marker, and no scripts, launch actions or embedded files.

This is a screen, not a parser: names hidden in compressed object streams get past it, which is why
attachments are always served as downloads (`Content-Disposition: attachment`, `nosniff`, a sandbox CSP).
"""
import re

from casting.kernel.errors import ApiError, Codes

PDF_CONTENT_TYPE = "application/pdf"
_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?)(?![A-Za-z0-9])")


def is_pdf(data):
    return data.startswith(b"%PDF-")


def check_pdf(data):
    """415 unless `data` is a complete PDF without active content."""
    if not is_pdf(data) or b"%%EOF" not in data[-2048:]:
        raise ApiError(Codes.MEDIA_UNSUPPORTED, "The file is not a complete PDF.")
    if _ACTIVE.search(data):
        raise ApiError(Codes.MEDIA_UNSUPPORTED, "PDFs with scripts, launch actions or embedded files are not accepted.")
