from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from casting.auth import login_required
from casting.media import serve_file
from casting.messaging import attachments, services
from casting.messaging.schemas import (AttachmentArgsSchema, AttachmentFileSchema, AttachmentSchema,
                                       ConversationCreateSchema, ConversationQueryArgsSchema, ConversationSchema,
                                       MessageCreateSchema,
                                       MessagePageArgsSchema, MessagePageSchema, MessageSchema, ReadSchema,
                                       ReceiptSchema)
from casting.kernel.jsonprovider import dumps_bytes, json_response
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import paginated
from casting.kernel.throttle import rate_limit

blp = Blueprint("messaging", __name__, url_prefix="/api",
                description="Conversations and messages (the REST side of chat; live events are on Socket.IO "
                            "namespace `/chat`, see docs/domains/messaging.md).")

MESSAGE_EXAMPLE = {"id": 1201, "conversation_id": 9, "sender_id": 5, "is_verified": True, "safety": None,
                   "body": "Can you come in for a callback on Friday?", "attachments": [],
                   "client_id": "2b0d7b3e-6c1a-4a8e-9f7e-0c9d3f1e2a41", "created_at": "2026-11-24T10:00:00+00:00",
                   "read_by": [{"user_id": 42, "read_at": "2026-11-24T10:01:00+00:00"}]}
CONVERSATION_EXAMPLE = {"id": 9, "audition_id": 7, "is_group": False, "participants": [
    {"id": 5, "full_name": "Mukesh Chhabra", "role": "casting_director", "is_verified": True, "online": True},
    {"id": 42, "full_name": "Asha Rao", "role": "talent", "is_verified": False, "online": False}],
    "last_message": MESSAGE_EXAMPLE, "unread_count": 0, "last_read_message_id": 1201,
    "created_at": "2026-11-24T09:00:00+00:00", "last_message_at": "2026-11-24T10:00:00+00:00"}
ATTACHMENT_EXAMPLE = {"id": 5, "kind": "pdf", "name": "showreel-stills.pdf", "content_type": "application/pdf",
                      "size_bytes": 482113, "width": None, "height": None, "url": "/api/attachments/5",
                      "thumbnail_url": None, "created_at": "2026-11-24T10:00:00+00:00"}


@blp.route("/conversations")
class ConversationViews(MethodView):
    @login_required()
    @blp.arguments(ConversationQueryArgsSchema, location="query")
    @paginated(blp, ConversationSchema, CONVERSATION_EXAMPLE)
    @error_responses(blp, 401)
    def get(self, args):
        """Your conversations, the most recently active first, with unread counts and who is online."""
        return json_response(dumps_bytes(services.conversations(current_user, args)))

    @login_required()
    @blp.arguments(ConversationCreateSchema, example={"participant_ids": [42], "audition_id": 7})
    @blp.response(201, ConversationSchema, example=CONVERSATION_EXAMPLE,
                  description="A new conversation.")
    @blp.alt_response(200, schema=ConversationSchema, example=CONVERSATION_EXAMPLE, success=True,
                      description="The existing conversation of these two people (about this audition).")
    @error_responses(blp, 401, 403, 404, 429)
    def post(self, data):
        """Start a conversation (you are always in it); the same two people get their existing one back."""
        conversation, created = services.start(current_user, data["participant_ids"], data.get("audition_id"))
        return json_response(dumps_bytes(services.conversation(conversation.id, current_user))), 201 if created else 200


@blp.route("/conversations/<int:conversation_id>")
class ConversationByIdViews(MethodView):
    @login_required()
    @blp.response(200, ConversationSchema, example=CONVERSATION_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, conversation_id):
        """One of your conversations."""
        return json_response(dumps_bytes(services.conversation(conversation_id, current_user)))


@blp.route("/conversations/<int:conversation_id>/messages")
class MessageViews(MethodView):
    @login_required()
    @blp.arguments(MessagePageArgsSchema, location="query")
    @blp.response(200, MessagePageSchema,
                  example={"items": [MESSAGE_EXAMPLE], "meta": {"limit": 30, "next_cursor": "1201"}})
    @error_responses(blp, 401, 404)
    def get(self, args, conversation_id):
        """Messages, newest first; pass `meta.next_cursor` as `before` for older ones, or catch up with `after`.

        After a (re)connect to `/chat`, a client asks for `after=<the last message id it saw>` (oldest first,
        `meta.next_cursor` as `after` for the next page) so nothing sent while it was away is missed."""
        return json_response(dumps_bytes(services.history(conversation_id, current_user, args.get("before"),
                                                          args["limit"], args.get("after"))))

    @login_required()
    @blp.arguments(MessageCreateSchema, example={"body": "Can you come in for a callback on Friday?",
                                                 "client_id": "2b0d7b3e-6c1a-4a8e-9f7e-0c9d3f1e2a41"})
    @blp.response(201, MessageSchema, example=MESSAGE_EXAMPLE, description="Stored and sent to the participants.")
    @blp.alt_response(200, schema=MessageSchema, example=MESSAGE_EXAMPLE, success=True,
                      description="This `client_id` was sent before: the first message.")
    @error_responses(blp, 401, 404, 409, 429)
    def post(self, data, conversation_id):
        """Send a message (stored first, then delivered live, or by notification to whoever is away)."""
        sent = services.post(current_user, conversation_id, data.get("body"), data["attachment_ids"],
                             data["client_id"])
        return sent.message, 201 if sent.created else 200


@blp.route("/conversations/<int:conversation_id>/read")
class ReadViews(MethodView):
    @login_required()
    @blp.arguments(ReadSchema, example={"message_id": 1201})
    @blp.response(200, ReceiptSchema, example={"conversation_id": 9, "user_id": 42, "message_id": 1201,
                                               "read_at": "2026-11-24T10:01:00+00:00"})
    @error_responses(blp, 401, 404)
    def post(self, data, conversation_id):
        """Mark everything up to this message read; the others see a `message:read` event."""
        return services.mark_read(current_user, conversation_id, data["message_id"])


@blp.route("/attachments")
class AttachmentViews(MethodView):
    @rate_limit("RATELIMIT_UPLOAD")
    @login_required()
    @blp.arguments(AttachmentFileSchema, location="multipart")
    @blp.response(201, AttachmentSchema, example=ATTACHMENT_EXAMPLE)
    @error_responses(blp, 401, 413, 415)
    def post(self, upload):
        """Upload an image or PDF (multipart `file`), then send its id in a message's `attachment_ids`."""
        return attachments.upload(current_user, upload["file"])


@blp.route("/attachments/<int:attachment_id>")
class AttachmentByIdViews(MethodView):
    @login_required()
    @blp.arguments(AttachmentArgsSchema, location="query")
    @blp.response(200, content_type="application/octet-stream", description="The file, as a download.")
    @blp.alt_response(302, description="With S3 storage: a redirect to a short-lived link.", success=True)
    @error_responses(blp, 401, 404)
    def get(self, args, attachment_id):
        """An attachment: yours, or one sent in a conversation you are in."""
        attachment = attachments.readable(attachment_id, current_user)
        thumbnail = args["size"] == "thumbnail" and attachment.thumbnail_key
        key = attachment.thumbnail_key if thumbnail else attachment.key
        return serve_file(key, mimetype="image/webp" if thumbnail else attachment.content_type,
                          download_name=attachment.name)
