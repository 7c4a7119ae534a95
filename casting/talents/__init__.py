"""Talent profiles, their media and embeddings, listing and search.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["PUBLIC_FIELDS", "age_clause", "born_between", "bounded_count", "can_manage", "compact", "create",
                 "filter_key", "get_live", "profile", "profiles", "profiles_json", "public_media", "view"],
    "schemas": ["EMBEDDING_EXAMPLE", "EMBEDDING_STORED_EXAMPLE", "EmbeddingInputSchema", "EmbeddingSchema",
                "MediaSchema", "TALENT_EXAMPLE", "TalentSchema"]
}, modules=["cache", "embeddings"])


def init_app(app):
    """The talent routes."""
    from casting.kernel.extensions import api
    from casting.talents.routes import blp

    api.register_blueprint(blp)
