from flask.views import MethodView
from flask_smorest import Blueprint

from casting.notifications import services
from casting.notifications.schemas import OutboxMessageSchema
from casting.kernel.pagination import PageArgsSchema, page, paginated

dev_blp = Blueprint("dev", __name__, url_prefix="/api/dev",
                    description="Development mode only: what the console provider would have sent.")

OUTBOX_ITEM = {"id": 7, "channel": "whatsapp", "to": "+919876543210", "template": "otp",
               "body": "482913 is your Casting verification code. It expires in 10 minutes.",
               "created_at": "2026-11-24T10:00:00+00:00"}


@dev_blp.route("/outbox")
class OutboxViews(MethodView):
    @dev_blp.doc(security=[])
    @dev_blp.arguments(PageArgsSchema, location="query")
    @paginated(dev_blp, OutboxMessageSchema, OUTBOX_ITEM)
    def get(self, args):
        """The dev outbox: messages the console provider kept, newest first."""
        items, total = services.dev_outbox(args["page"], args["per_page"])
        return page(items, total, args["page"], args["per_page"])
