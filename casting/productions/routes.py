from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from casting.auth import api_key_required, cached_response, calling_user, keep_for, user_or_api_key
from casting.auth import login_required
from casting.kernel.jsonprovider import dumps_bytes, json_response
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import PageArgsSchema, page, paginated
from casting.productions import cache, services
from casting.productions.schemas import (MATCH_EXAMPLE, PRODUCTION_EXAMPLE, ROLE_EXAMPLE, MatchSchema,
                                         ProductionCreateSchema, ProductionQuerySchema, ProductionSchema,
                                         ProductionUpdateSchema, RoleInputSchema, RoleQueryArgsSchema, RoleSchema,
                                         RoleUpdateSchema)
from casting.talents import cache as talent_cache, embeddings
from casting.talents import EMBEDDING_EXAMPLE, EMBEDDING_STORED_EXAMPLE, EmbeddingInputSchema, EmbeddingSchema

blp = Blueprint("productions", __name__, url_prefix="/api/productions",
                description="Productions and their roles, owned by the casting director or producer who made them.")


@blp.route("/")
class ProductionViews(MethodView):
    @login_required()
    @blp.arguments(ProductionQuerySchema, location="query")
    @paginated(blp, ProductionSchema, PRODUCTION_EXAMPLE)
    @error_responses(blp, 401)
    def get(self, args):
        """Productions, newest first: everyone's once casting, your own drafts too (admins see all)."""
        return services.listing(current_user, args)

    @login_required()
    @blp.arguments(ProductionCreateSchema, example={"title": "Monsoon Wedding 2", "type": "film",
                                                    "language": "Hindi", "location": {"city": "Delhi"}})
    @blp.response(201, ProductionSchema, example=PRODUCTION_EXAMPLE)
    @error_responses(blp, 401, 403)
    def post(self, data):
        """Create a production (casting directors, producers, admins); you own it."""
        return services.create(current_user, data)


@blp.route("/<int:production_id>")
class ProductionByIdViews(MethodView):
    @login_required()
    @blp.response(200, ProductionSchema, example=PRODUCTION_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, production_id):
        """One production (someone else's draft is a 404)."""
        return services.visible(production_id, current_user)

    @login_required()
    @blp.arguments(ProductionUpdateSchema, example={"status": "casting"})
    @blp.response(200, ProductionSchema, example=PRODUCTION_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def put(self, changes, production_id):
        """Edit a production or move its status (owner or admin); fields left out stay as they are."""
        return services.update(production_id, current_user, changes)

    @login_required()
    @blp.response(204)
    @error_responses(blp, 401, 403, 404, 409)
    def delete(self, production_id):
        """Delete a production and its roles (owner or admin); refused while it has auditions."""
        services.delete(production_id, current_user)


@blp.route("/<int:production_id>/roles")
class RoleViews(MethodView):
    @login_required()
    @blp.arguments(RoleQueryArgsSchema, location="query")
    @paginated(blp, RoleSchema, ROLE_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, args, production_id):
        """The production's roles, in the order they were added (or as `sort` says)."""
        return services.roles(production_id, current_user, args)

    @login_required()
    @blp.arguments(RoleInputSchema, example={"name": "Young Radha", "gender": "female", "age_min": 20,
                                             "age_max": 28, "skills": ["Acting", "Kathak"], "city": "Delhi"})
    @blp.response(201, RoleSchema, example=ROLE_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def post(self, data, production_id):
        """Add a role (owner or admin); it starts `open`."""
        return services.create_role(production_id, current_user, data)


@blp.route("/<int:production_id>/roles/<int:role_id>")
class RoleByIdViews(MethodView):
    @login_required()
    @blp.response(200, RoleSchema, example=ROLE_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, production_id, role_id):
        """One role."""
        return services.role(production_id, role_id, current_user)

    @login_required()
    @blp.arguments(RoleUpdateSchema, example={"status": "filled"})
    @blp.response(200, RoleSchema, example=ROLE_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def put(self, changes, production_id, role_id):
        """Edit a role or move its status (owner or admin)."""
        return services.update_role(production_id, role_id, current_user, changes)

    @login_required()
    @blp.response(204)
    @error_responses(blp, 401, 403, 404)
    def delete(self, production_id, role_id):
        """Delete a role (owner or admin)."""
        services.delete_role(production_id, role_id, current_user)


@blp.route("/<int:production_id>/roles/<int:role_id>/matches")
class RoleMatchViews(MethodView):
    @cached_response(cache.matches_versions)
    @user_or_api_key("ml")
    @blp.doc(security=[{"bearerAuth": []}, {"apiKeyAuth": []}])
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, MatchSchema, MATCH_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def get(self, args, production_id, role_id):
        """Talent ranked for the role (owner or admin, or the ML service's `ml` API key): hard requirements
        filter, the rest scores, with reasons.

        Hard: available, not deleted, the role's gender, playing age (or age) overlapping the role's
        range, the city when `city_required`. Scored: skills, languages at the needed proficiency,
        experience, the city, profile completeness, verification, and, when the role has an embedding,
        how like the role the talent's embedding is ("like this role"). `meta.total` counts the
        candidates up to 1,000: beyond, `meta.total_exact` is false and `total` a lower bound.

        A user's page is kept for them until a talent, the production or one of its roles changes.
        """
        items, total, exact = services.matches(production_id, role_id, calling_user(), args)
        keep_for(talent_cache.page_seconds())
        meta = page([], total, args["page"], args["per_page"], exact)["meta"]
        # the talents' JSON comes serialised from their cached entries; only score and reasons are dumped here
        return json_response(b'{"items":[' + b",".join(
            b'{"talent":' + talent + b',"score":' + dumps_bytes(score) + b',"reasons":' + dumps_bytes(reasons) + b"}"
            for talent, score, reasons in items) + b'],"meta":' + dumps_bytes(meta) + b"}")


@blp.route("/<int:production_id>/roles/<int:role_id>/embedding")
class RoleEmbeddingViews(MethodView):
    @api_key_required("ml")
    @blp.doc(security=[{"apiKeyAuth": []}])
    @blp.arguments(EmbeddingInputSchema, example=EMBEDDING_EXAMPLE)
    @blp.response(200, EmbeddingSchema, example=EMBEDDING_STORED_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def put(self, data, production_id, role_id):
        """Store a role's embedding (the ML service: an API key with the `ml` scope), replacing any.

        Matching then adds "like this role" (cosine similarity of the talent's embedding to the role's)
        as one more weighted reason. `model` and `dimension` must be EMBEDDING_MODEL and EMBEDDING_DIM.
        """
        return embeddings.store_role(services.role_for_service(production_id, role_id), data)
