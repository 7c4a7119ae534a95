from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from casting.admin import services
from casting.admin.schemas import ApiKeyQueryArgsSchema, AuditEventSchema, AuditQuerySchema
from casting.auth import api_keys
from casting.auth import login_required
from casting.auth import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import paginated
from casting.kernel.requestid import current_client
from casting.users import RoleChangeSchema, USER_EXAMPLE, UserSchema
from casting.kernel.idempotency import secret_answer

API_KEY_EXAMPLE = {"id": 3, "name": "matching-service", "prefix": "9f3a61c2", "scopes": ["ml"],
                   "created_by_id": 1, "created_at": "2026-11-24T10:00:00+00:00", "last_used_at": None,
                   "revoked_at": None}
blp = Blueprint("admin", __name__, url_prefix="/api/admin",
                description="Administration: roles, service API keys and the audit log. Admins only.")


@blp.route("/users/<int:user_id>/role")
class UserRoleViews(MethodView):
    @login_required("admin")
    @blp.arguments(RoleChangeSchema, example={"role": "casting_director"})
    @blp.response(200, UserSchema, example={**USER_EXAMPLE, "role": "casting_director"})
    @error_responses(blp, 401, 403, 404)
    def put(self, data, user_id):
        """Give a user another role (the only way, besides the CLI, to make an admin)."""
        return services.change_role(current_user, user_id, data["role"], current_client())


@blp.route("/audit-events")
class AuditEventViews(MethodView):
    @login_required("admin")
    @blp.arguments(AuditQuerySchema, location="query")
    @paginated(blp, AuditEventSchema, {
        "id": 318, "actor_id": 42, "actor_api_key_id": None, "action": "token_reuse", "target_type": "session",
        "target_id": "5f0c2a9e0d6b4c1f8e3a7b6d5c4e3f21", "ip": "203.0.113.7",
        "request_id": "0b6f0c5e6a0d4c1f9f1b2a7d3e4c5b6a", "details": {}, "at": "2026-11-24T10:00:00+00:00"})
    @error_responses(blp, 401, 403)
    def get(self, args):
        """The audit log, newest first, filtered by action, actor, target and time."""
        return services.audit_events(args)


@blp.route("/api-keys")
class ApiKeyViews(MethodView):
    @login_required("admin")
    @blp.arguments(ApiKeyQueryArgsSchema, location="query")
    @paginated(blp, ApiKeySchema, API_KEY_EXAMPLE)
    @error_responses(blp, 401, 403)
    def get(self, args):
        """Service API keys (never the keys themselves), newest first."""
        return api_keys.listing(args.get("sort"))

    @secret_answer
    @login_required("admin")
    @blp.arguments(ApiKeyCreateSchema, example={"name": "matching-service", "scopes": ["ml"]})
    @blp.response(201, ApiKeyCreatedSchema, example={
        "api_key": API_KEY_EXAMPLE, "key": "ck_9f3a61c2_Zt7kq0dQ3m1Lx8VbR2nW5yH4sJ6pA9cE0uF1gT3hK"})
    @error_responses(blp, 401, 403)
    def post(self, data):
        """Create a key; the answer holds the key itself, shown this once."""
        key, plaintext = api_keys.create(data["name"], data["scopes"], created_by_id=current_user.id,
                                         client=current_client())
        return {"api_key": key, "key": plaintext}


@blp.route("/api-keys/<int:key_id>")
class ApiKeyByIdViews(MethodView):
    @login_required("admin")
    @blp.response(204)
    @error_responses(blp, 401, 403, 404)
    def delete(self, key_id):
        """Revoke a key: it stops working at once."""
        api_keys.revoke(key_id, actor_id=current_user.id, client=current_client())
