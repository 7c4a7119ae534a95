from flask.views import MethodView
from flask_smorest import Blueprint

from casting.kernel.extensions import limiter
from casting.health import services
from casting.health.schemas import HealthSchema, ReadinessSchema

blp = Blueprint("health", __name__, url_prefix="/api/health",
                description="Liveness and readiness probes for load balancers and orchestrators.")
limiter.exempt(blp)


@blp.route("")
class HealthViews(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema, example={"status": "ok"})
    def get(self):
        """Liveness: the process is up and answering."""
        return {"status": "ok"}


@blp.route("/ready")
class ReadinessViews(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ReadinessSchema, example={"status": "ok", "database": "ok", "redis": "ok"})
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE",
                      description="A dependency is unreachable (`SERVER_002`, with `Retry-After`).")
    def get(self):
        """Readiness: PostgreSQL and Redis are reachable."""
        return services.readiness()
