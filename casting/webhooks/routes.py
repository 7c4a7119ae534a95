from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import limiter
from casting.webhooks import services
from casting.webhooks.schemas import VerificationArgsSchema, WebhookAckSchema

blp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks",
                description="Delivery reports and inbound messages from WhatsApp, Twilio and MSG91. "
                            "Each call is authenticated by the provider's signature or token, not a JWT.")
limiter.exempt(blp)

ACK_EXAMPLE = {"statuses": 1, "messages": 0}
WHATSAPP_EXAMPLE = {"object": "whatsapp_business_account", "entry": [{"id": "1029384756", "changes": [{
    "field": "messages", "value": {"messaging_product": "whatsapp", "statuses": [{
        "id": "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQ0E1", "status": "delivered",
        "timestamp": "1795514400", "recipient_id": "919876543210"}]}}]}]}
JSON_OBJECT = {"type": "object", "additionalProperties": True}


def _json_body():
    payload = request.get_json(silent=True)
    if payload is None:
        raise ApiError(Codes.BAD_REQUEST, "The body must be JSON.")
    return payload


@blp.route("/whatsapp")
class WhatsAppWebhookViews(MethodView):
    @blp.doc(security=[])
    @blp.arguments(VerificationArgsSchema, location="query")
    @blp.response(200, {"type": "string"}, content_type="text/plain", example="1158201444",
                  description="The challenge, echoed back as plain text.")
    @blp.alt_response(403, response="FORBIDDEN", description="`WEBHOOK_001`: the verify token is wrong.")
    def get(self, args):
        """Meta's webhook verification: echo `hub.challenge` when the verify token matches."""
        if args["mode"] != "subscribe" or not services.valid_token(
                args["verify_token"], current_app.config["WHATSAPP_VERIFY_TOKEN"]):
            raise ApiError(Codes.WEBHOOK_VERIFY_FAILED)
        return Response(args["challenge"], mimetype="text/plain")

    @blp.doc(security=[], requestBody={"required": True, "content": {"application/json": {
        "schema": JSON_OBJECT, "example": WHATSAPP_EXAMPLE}}},
        parameters=[{"in": "header", "name": "X-Hub-Signature-256", "required": True,
                     "schema": {"type": "string"},
                     "description": "`sha256=` HMAC of the raw body with the app secret."}])
    @blp.response(200, WebhookAckSchema, example=ACK_EXAMPLE)
    @blp.alt_response(401, response="UNAUTHORIZED", description="`WEBHOOK_002`: bad or missing signature.")
    @blp.alt_response(400, response="BAD_REQUEST")
    def post(self):
        """Delivery statuses and inbound messages from the WhatsApp Cloud API (signed)."""
        if not services.valid_meta_signature(request.get_data(cache=True),
                                             request.headers.get("X-Hub-Signature-256"),
                                             current_app.config["WHATSAPP_APP_SECRET"]):
            raise ApiError(Codes.WEBHOOK_BAD_SIGNATURE)
        payload = _json_body()
        if not isinstance(payload, dict):
            raise ApiError(Codes.BAD_REQUEST, "The body must be a JSON object.")
        return services.handle_whatsapp(payload)


@blp.route("/sms/<any(twilio, msg91):provider>")
class SmsWebhookViews(MethodView):
    @blp.doc(security=[], requestBody={"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": JSON_OBJECT, "example": {
            "MessageSid": "SM0123456789abcdef0123456789abcdef", "MessageStatus": "delivered"}},
        "application/json": {"schema": {}, "example": [
            {"requestId": "3563726b6c4c313435383230", "status": "1", "desc": "DELIVRD"}]}}},
        description="Twilio signs with `X-Twilio-Signature`; MSG91 sends the shared token as "
                    "`X-Webhook-Token` (or `?token=`).")
    @blp.response(200, WebhookAckSchema, example=ACK_EXAMPLE)
    @blp.alt_response(401, response="UNAUTHORIZED", description="`WEBHOOK_002`: bad or missing signature.")
    @blp.alt_response(400, response="BAD_REQUEST")
    def post(self, provider):
        """SMS delivery reports from Twilio (form, signed) or MSG91 (JSON, shared token)."""
        config = current_app.config
        if provider == "twilio":
            url = config["TWILIO_STATUS_CALLBACK_URL"] or request.url
            if not services.valid_twilio_signature(url, request.form.items(multi=True),
                                                   request.headers.get("X-Twilio-Signature"),
                                                   config["TWILIO_AUTH_TOKEN"]):
                raise ApiError(Codes.WEBHOOK_BAD_SIGNATURE)
            return services.handle_twilio(request.form)
        token = request.headers.get("X-Webhook-Token") or request.args.get("token", "")
        if not services.valid_token(token, config["MSG91_WEBHOOK_TOKEN"]):
            raise ApiError(Codes.WEBHOOK_BAD_SIGNATURE)
        return services.handle_msg91(_json_body())
