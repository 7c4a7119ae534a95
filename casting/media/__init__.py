"""Uploaded images and documents: checks, processing and storage (disk or S3).

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "documents": ["PDF_CONTENT_TYPE", "check_pdf", "is_pdf"],
    "images": ["CONTENT_TYPES", "process", "read_limited"],
    "pool": ["offload"],
    "storage": ["DiskStorage", "S3Storage", "file_storage=storage", "serve_file=serve"]
})


def init_app(app):
    """The signed media-link route."""
    from casting.kernel.extensions import api
    from casting.media.routes import blp

    api.register_blueprint(blp)
