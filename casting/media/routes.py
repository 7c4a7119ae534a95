import time

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import limiter
from casting.media.storage import DiskStorage, serve, storage
from casting.kernel.numbers import Int64
from casting.kernel.openapi import error_responses

blp = Blueprint("media", __name__, url_prefix="/api/media",
                description="Uploaded images and self-tapes kept on local disk (when S3 is not configured), by signed "
                            "link.")
limiter.exempt(blp)  # a gallery loads dozens at once; the signature is what guards them


class SignedLinkSchema(Schema):
    expires = Int64(required=True, metadata={"description": "Unix time the link stops working."})
    signature = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


@blp.route("/<path:key>", endpoint="file")
class MediaFileViews(MethodView):
    @blp.doc(security=[])
    @blp.arguments(SignedLinkSchema, location="query")
    @blp.response(200, content_type="image/*", description="The image (or a self-tape's MP4, `video/mp4`).")
    @blp.alt_response(206, description="The byte range asked for with `Range` (a video player seeking).")
    @error_responses(blp, 403, 404, 422)
    def get(self, link, key):
        """One stored image or self-tape, through the expiring link a response gave (no token needed).

        Answers `Range` requests (206) and `If-None-Match`/`If-Modified-Since` (304), so a browser's player seeks.
        """
        files = storage()
        if not isinstance(files, DiskStorage):
            raise ApiError(Codes.NOT_FOUND)
        if not files.verify(key, link["expires"], link["signature"]):
            raise ApiError(Codes.MEDIA_LINK_INVALID)
        return serve(key, max_age=max(0, link["expires"] - int(time.time())), conditional=True)
