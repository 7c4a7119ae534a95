from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from casting.auth import login_required
from casting.kernel.extensions import limiter
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import paginated
from casting.tapes import services
from casting.tapes.schemas import (PART_EXAMPLE, QUEUED_EXAMPLE, TAPE_EXAMPLE, UPLOAD_EXAMPLE, UPLOADING_EXAMPLE,
                                   PartLinkSchema, PartSchema, SubmitTapeSchema, TapeCreateSchema, TapeQuerySchema,
                                   TapeSchema, UploadSchema)

blp = Blueprint("tapes", __name__, url_prefix="/api/tapes",
                description="Self-tapes: resumable uploads, checked and converted by the worker, sent to a self-tape "
                            "audition or a casting-call submission, watched by signed link.")
parts_blp = Blueprint("tape_parts", __name__, url_prefix="/api/tapes",
                      description="Where a self-tape's parts go when media is kept on local disk (development).")
limiter.exempt(parts_blp)  # a gigabyte is 128 parts sent at once; the signed link is what guards them


def _one(tape, manages):
    return services.present([tape], upload_for={tape.id} if manages else ())[0]


@blp.route("/")
class TapesViews(MethodView):
    @login_required()
    @blp.arguments(TapeQuerySchema, location="query")
    @paginated(blp, TapeSchema, TAPE_EXAMPLE, present=services.present)
    @error_responses(blp, 401, 403, 404)
    def get(self, args):
        """Your tapes (talent; agents: your talent's), or, for its casting team, those sent to an audition
        (`audition_id`) or with a call's submissions (`call_id`), newest first, each with its poster."""
        return services.listing(current_user, args)

    @login_required()
    @blp.arguments(TapeCreateSchema, example={"filename": "radha-sangeet.mov", "size_bytes": 48_000_000,
                                              "content_type": "video/quicktime"})
    @blp.response(201, TapeSchema, example=UPLOADING_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 413)
    def post(self, data):
        """Start uploading a self-tape (the talent, their agent with `talent_id`): the answer's `upload` lists
        a URL for each part.

        PUT each part's bytes to its URL (straight to S3 when media is on S3), keep the `ETag` each answers
        with, then `POST /api/tapes/{id}/upload/complete`. After a dropped connection,
        `GET /api/tapes/{id}/upload` says which parts arrived and gives fresh URLs for the rest.
        """
        return _one(services.start(current_user, data), True)


@blp.route("/<int:tape_id>")
class TapeViews(MethodView):
    @login_required()
    @blp.response(200, TapeSchema, example=TAPE_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, tape_id):
        """One tape: its status and progress, and once ready signed links to watch it and its poster (the
        talent, their agent, and the casting team of an audition or call it was sent to)."""
        return _one(*services.visible(tape_id, current_user))

    @login_required()
    @blp.response(204)
    @error_responses(blp, 401, 403, 404)
    def delete(self, tape_id):
        """Delete a tape and its files (the talent or their agent); it leaves whatever it was sent to."""
        services.delete(tape_id, current_user)


@blp.route("/<int:tape_id>/upload")
class UploadViews(MethodView):
    @login_required()
    @blp.response(200, UploadSchema, example=UPLOAD_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def get(self, tape_id):
        """Resume an upload: the parts received so far, and fresh URLs for the others."""
        return services.upload_state(services.managed(tape_id, current_user))


@blp.route("/<int:tape_id>/upload/complete")
class CompleteViews(MethodView):
    @login_required()
    @blp.response(202, TapeSchema, example=QUEUED_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, tape_id):
        """Every part is sent: the worker checks and converts the video (watch `status` and `progress`).

        Every part must be there at its size (`409 TAPE_003` lists the `missing` and `wrong_size` ones).
        Asking again once it is queued changes nothing.
        """
        return _one(services.complete(tape_id, current_user), True)


@blp.route("/<int:tape_id>/submit")
class SubmitViews(MethodView):
    @login_required()
    @blp.arguments(SubmitTapeSchema, example={"audition_id": 7})
    @blp.response(200, TapeSchema, example=TAPE_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409, 422)
    def post(self, data, tape_id):
        """Send the tape to a self_tape audition you are invited to (`audition_id`) or with your submission to a
        casting call (`submission_id`); sending another one before the deadline replaces it.

        A tape is due by the end of the audition's `scheduled_date` in its time zone (none set: while the
        audition is open), or by the call's deadline; later is `409 TAPE_005`. The tape may still be
        converting: the casting team sees it once it is ready.
        """
        return _one(services.submit(tape_id, current_user, data), True)


class _RequestBody:
    """The request body as the upload service reads it: its declared length, and its stream under a bound
    of the service's choosing (Werkzeug refuses to read past it)."""

    @property
    def length(self):
        return request.content_length or 0

    def stream(self, bound):
        request.max_content_length = bound
        return request.stream


@parts_blp.route("/<int:tape_id>/parts/<int:number>", endpoint="part")
class PartViews(MethodView):
    @parts_blp.doc(security=[], requestBody={"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
    @parts_blp.arguments(PartLinkSchema, location="query")
    @parts_blp.response(200, PartSchema, example=PART_EXAMPLE)
    @error_responses(parts_blp, 403, 404, 409, 413, 422)
    def put(self, link, tape_id, number):
        """One part's bytes (the request body), through a URL the upload gave; answers its `ETag`, as S3 does.

        Only when media is kept on local disk; on S3 the part URLs are S3's own.
        """
        part = services.write_part(tape_id, number, link, _RequestBody())
        return part, 200, {"ETag": f'"{part["etag"]}"'}
