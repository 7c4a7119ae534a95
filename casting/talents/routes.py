from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from casting.auth import api_key_required, cached_response, keep_for, login_required, prefetch
from casting.kernel.jsonprovider import json_response
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import PageArgsSchema, paginated
from casting.talents import cache as talent_cache, embeddings, media, services
from casting.talents.schemas import (EMBEDDING_EXAMPLE, EMBEDDING_STORED_EXAMPLE, MEDIA_EXAMPLE, TALENT_EXAMPLE,
                                     EmbeddingInputSchema, EmbeddingSchema, MediaUploadSchema,
                                     MediaSchema, TalentInputSchema, TalentQueryArgsSchema, TalentSchema,
                                     TalentSearchSchema, TalentUpdateSchema)
from casting.kernel.throttle import rate_limit

blp = Blueprint("talents", __name__, url_prefix="/api/talents",
                description="Talent profiles: create, edit, list, search, featured, photos.")
INPUT_EXAMPLE = {"stage_name": "Asha Rao", "gender": "female", "date_of_birth": "1998-04-12",
                 "playing_age_min": 22, "playing_age_max": 30, "height_cm": 165,
                 "location": {"city": "Mumbai", "state": "Maharashtra"}, "skills": ["Acting", "Kathak"],
                 "languages": [{"name": "Marathi", "proficiency": "native"}], "day_rate_inr": 15000}


def _page(result, args):
    keep_for(talent_cache.page_seconds())
    return json_response(services.page_json(result, args, current_user))


def _list_versions(user_id, path):
    """What a cached page of talent depends on besides the caller and the request: any talent write."""
    return [talent_cache.VERSION_KEY]


@blp.route("/")
class TalentViews(MethodView):
    @cached_response(_list_versions)
    @login_required()
    @blp.arguments(TalentQueryArgsSchema, location="query")
    @paginated(blp, TalentSchema, TALENT_EXAMPLE)
    @error_responses(blp, 401)
    def get(self, filters):
        """Talent, newest first, filtered (lists are comma-separated: `skills=Acting,Kathak`).

        `languages=Marathi:fluent` asks for at least that proficiency. `q` is typo-tolerant (a letter
        wrong, missing or swapped; Indian transliteration variants such as Lakshmi/Laxmi) and ranks.
        `meta.total` counts up to 1,000 matches: beyond, `meta.total_exact` is false and `total` a lower
        bound.
        """
        return _page(services.search_page_json(filters), filters)

    @login_required()
    @blp.arguments(TalentInputSchema, example=INPUT_EXAMPLE)
    @blp.response(201, TalentSchema, example=TALENT_EXAMPLE)
    @error_responses(blp, 401, 403, 409)
    def post(self, data):
        """Create a profile: your own (talent), one for a talent you represent (agent), or any (admin)."""
        return services.view(services.snapshot(services.create(current_user, data)), current_user)


@blp.route("/search")
class TalentSearchViews(MethodView):
    @cached_response(_list_versions)
    @rate_limit("RATELIMIT_SEARCH")
    @login_required()
    @blp.arguments(TalentSearchSchema, example={"q": "Priyanka", "city": "Mumbai", "skills": ["Acting"],
                                                "age_min": 20, "age_max": 30})
    @paginated(blp, TalentSchema, TALENT_EXAMPLE)
    @error_responses(blp, 401)
    def post(self, filters):
        """Search talent: the list filters as a JSON body; ordered by relevance unless `sort` is given.

        Vector search: `similar_to` (a talent id) or `embedding` (a vector) ranks by cosine similarity,
        nearest first, over the talent that have an embedding; every filter and paging combine with it.
        `meta.total` counts up to 1,000 matches: beyond, `meta.total_exact` is false and `total` a lower
        bound.
        """
        return _page(services.search_page_json(filters), filters)


@blp.route("/me")
class OwnTalentViews(MethodView):
    @prefetch(lambda user_id, path: talent_cache.own_talent_keys(user_id))
    @login_required()
    @blp.response(200, TalentSchema, example=TALENT_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self):
        """Your own talent profile (for the app's "my profile"); 404 until you have made one."""
        return json_response(services.own_profile_json(current_user))


@blp.route("/featured")
class FeaturedTalentViews(MethodView):
    @cached_response(_list_versions)
    @login_required()
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, TalentSchema, TALENT_EXAMPLE)
    @error_responses(blp, 401)
    def get(self, args):
        """Featured talent: those admins feature first, then verified, complete, recently updated profiles."""
        return _page(services.featured_page(args), args)


@blp.route("/<int:talent_id>")
class TalentByIdViews(MethodView):
    @prefetch(lambda user_id, path: talent_cache.profile_keys(path["talent_id"]))
    @login_required()
    @blp.response(200, TalentSchema, example=TALENT_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, talent_id):
        """One talent."""
        return json_response(services.profile_json(talent_id, current_user))

    @prefetch(lambda user_id, path: talent_cache.snapshot_keys(path["talent_id"]))
    @login_required()
    @blp.arguments(TalentUpdateSchema, example={"availability_status": "busy", "day_rate_inr": 18000})
    @blp.response(200, TalentSchema, example=TALENT_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def put(self, changes, talent_id):
        """Edit a profile (the talent, their agent or an admin); fields left out stay as they are."""
        return services.view(services.update(talent_id, current_user, changes), current_user)

    @login_required()
    @blp.response(204)
    @error_responses(blp, 401, 403, 404)
    def delete(self, talent_id):
        """Remove a profile from every list and search (the talent or an admin; restorable)."""
        services.delete(talent_id, current_user)


@blp.route("/<int:talent_id>/restore")
class TalentRestoreViews(MethodView):
    @login_required("admin")
    @blp.response(200, TalentSchema, example=TALENT_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def post(self, talent_id):
        """Bring a deleted profile back into every list and search (admins)."""
        return services.view(services.snapshot(services.restore(talent_id)), current_user)


@blp.route("/<int:talent_id>/media")
class TalentMediaViews(MethodView):
    @rate_limit("RATELIMIT_UPLOAD")
    @login_required()
    @blp.arguments(MediaUploadSchema, location="multipart")
    @blp.response(201, MediaSchema, example=MEDIA_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409, 413, 415)
    def post(self, upload, talent_id):
        """Upload a headshot or portfolio image (multipart `file` and `kind`; the talent, their agent or admin)."""
        return services.public_media(media.add(talent_id, current_user, upload["kind"], upload["file"]))


@blp.route("/<int:talent_id>/media/<int:media_id>")
class TalentMediaItemViews(MethodView):
    @login_required()
    @blp.response(204)
    @error_responses(blp, 401, 403, 404)
    def delete(self, talent_id, media_id):
        """Delete one image and its files (the talent, their agent or an admin)."""
        media.remove(talent_id, media_id, current_user)


@blp.route("/<int:talent_id>/embedding")
class TalentEmbeddingViews(MethodView):
    @api_key_required("ml")
    @blp.doc(security=[{"apiKeyAuth": []}])
    @blp.arguments(EmbeddingInputSchema, example=EMBEDDING_EXAMPLE)
    @blp.response(200, EmbeddingSchema, example=EMBEDDING_STORED_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def put(self, data, talent_id):
        """Store a talent's embedding (the ML service: an API key with the `ml` scope), replacing any.

        `model` and `dimension` must be EMBEDDING_MODEL and EMBEDDING_DIM (422 naming the field
        otherwise). Deleting the talent removes the vector.
        """
        return embeddings.store(talent_id, data)
