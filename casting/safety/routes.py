from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from casting.auth import login_required
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import paginated
from casting.kernel.requestid import current_client
from casting.safety import services
from casting.safety.models import FlagTarget
from casting.safety.schemas import (FlagQueryArgsSchema, FlagSchema, ReportReceiptSchema, ReportSchema, ResolveSchema,
                                    VerificationSchema)
from casting.users import USER_EXAMPLE, UserSchema

blp = Blueprint("safety", __name__, url_prefix="/api",
                description="Trust and safety: reports, the admin review queue, verified casting accounts, "
                            "suspension and reinstatement.")
RECEIPT_EXAMPLE = {"id": 17, "target_type": "message", "target_id": 1201, "reason": "money_request",
                   "status": "open", "created_at": "2026-11-24T10:00:00+00:00"}
FLAG_EXAMPLE = {**RECEIPT_EXAMPLE, "source": "report", "subject_id": 5, "reporter_id": 42,
                "note": "He asked for ₹2,000 to confirm my slot.", "findings": None, "resolved_at": None,
                "resolved_by": None, "outcome_note": None}
VERIFIED_EXAMPLE = {**USER_EXAMPLE, "role": "casting_director", "is_verified": True}


@blp.route("/reports")
class ReportViews(MethodView):
    @login_required()
    @blp.arguments(ReportSchema, example={"target_type": "message", "target_id": 1201, "reason": "money_request"})
    @blp.response(201, ReportReceiptSchema, example=RECEIPT_EXAMPLE, description="Filed for review.")
    @blp.alt_response(200, schema=ReportReceiptSchema, example=RECEIPT_EXAMPLE, success=True,
                      description="You already reported this; your open report.")
    @error_responses(blp, 401, 404)
    def post(self, data):
        """Report a message (in a conversation of yours), a production or a user to the safety team."""
        flag, created = services.report(current_user, FlagTarget(data["target_type"]), data["target_id"],
                                        data["reason"], current_client(), data.get("note"))
        return flag, 201 if created else 200


@blp.route("/admin/flags")
class FlagViews(MethodView):
    @login_required("admin")
    @blp.arguments(FlagQueryArgsSchema, location="query")
    @paginated(blp, FlagSchema, FLAG_EXAMPLE)
    @error_responses(blp, 401, 403)
    def get(self, args):
        """The review queue: reports and the scam shield's flags, newest first (admins)."""
        return services.flags(args)


@blp.route("/admin/flags/<int:flag_id>/resolve")
class FlagResolveViews(MethodView):
    @login_required("admin")
    @blp.arguments(ResolveSchema, example={"outcome": "upheld", "note": "Asked three talents for money."})
    @blp.response(200, FlagSchema, example={**FLAG_EXAMPLE, "status": "upheld"})
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, data, flag_id):
        """Uphold or dismiss a flag: dismissing lifts a hold; upheld flags add up to a suspension (admins)."""
        return services.resolve(current_user, flag_id, data["outcome"], current_client(), data.get("note"))


@blp.route("/admin/users/<int:user_id>/verification")
class VerificationViews(MethodView):
    @login_required("admin")
    @blp.arguments(VerificationSchema)
    @blp.response(200, UserSchema, example=VERIFIED_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, data, user_id):
        """Verify a casting director, producer or agent, noting the evidence (admins)."""
        return services.verify(current_user, user_id, data["note"], current_client())

    @login_required("admin")
    @blp.response(200, UserSchema, example={**VERIFIED_EXAMPLE, "is_verified": False})
    @error_responses(blp, 401, 403, 404)
    def delete(self, user_id):
        """Revoke a verification (admins)."""
        return services.unverify(current_user, user_id, current_client())


@blp.route("/admin/users/<int:user_id>/reinstate")
class ReinstateViews(MethodView):
    @login_required("admin")
    @blp.response(200, UserSchema, example=VERIFIED_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def post(self, user_id):
        """Lift a suspension: the account may message and publish again, and its content shows again (admins)."""
        return services.reinstate(current_user, user_id, current_client())
