from flask import Response
from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from casting.auditions import calendar, services
from casting.auditions.schemas import (AuditionCreateSchema, AuditionInputSchema, AuditionQueryArgsSchema,
                                       AuditionSchema, InvitationQueryArgsSchema, InvitationSchema, InviteResultSchema,
                                       InviteSchema, ResultsSchema, RsvpSchema, ScheduleSchema)
from casting.auth import login_required
from casting.kernel.jsonprovider import dumps_bytes, json_response
from casting.kernel.numbers import Int32
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import paginated
from casting.kernel.web import public_url
from casting.kernel.idempotency import secret_answer

ICS = {"200": {"description": "An iCalendar (RFC 5545) file.", "content": {"text/calendar": {
    "schema": {"type": "string"}}}}}

blp = Blueprint("auditions", __name__, url_prefix="/api/auditions",
                description="Auditions: slots, bulk invites, RSVPs without overbooking, results with history.")
AUDITION_EXAMPLE = {
    "id": 4, "production_id": 3, "is_verified": True, "role_id": 11, "title": "Young Radha: first round",
    "mode": "in_person",
    "location": {"city": "Mumbai", "state": "Maharashtra", "country": "India"}, "meeting_url": None,
    "instructions": "Prepare the sangeet scene.", "scheduled_date": "2026-12-05", "duration_minutes": 15,
    "timezone": "Asia/Kolkata", "status": "scheduled", "created_at": "2026-11-24T10:00:00+00:00",
    "slots": [{"id": 1, "start_at": "2026-12-05T10:00:00+05:30", "end_at": "2026-12-05T10:15:00+05:30",
               "capacity": 2, "booked": 1}]}
INVITATION_EXAMPLE = {
    "id": 31, "audition_id": 4, "talent_id": 101, "status": "accepted", "waitlist_position": None,
    "slot": {"id": 1, "start_at": "2026-12-05T10:00:00+05:30", "end_at": "2026-12-05T10:15:00+05:30"},
    "history": [{"from_status": None, "to_status": "invited", "by_user_id": 5, "at": "2026-11-24T10:00:00+00:00",
                 "note": None},
                {"from_status": "invited", "to_status": "accepted", "by_user_id": 42,
                 "at": "2026-11-24T11:00:00+00:00", "note": None}]}


@blp.route("/")
class AuditionViews(MethodView):
    @login_required()
    @blp.arguments(AuditionQueryArgsSchema, location="query")
    @paginated(blp, AuditionSchema, AUDITION_EXAMPLE)
    @error_responses(blp, 401)
    def get(self, args):
        """Auditions: your productions' (casting team), the ones you are invited to (talent), all (admins)."""
        return json_response(dumps_bytes(services.listing_page(current_user, args)))

    @login_required()
    @blp.arguments(AuditionCreateSchema, example={"production_id": 3, "role_id": 11, "title": "First round",
                                                  "mode": "in_person", "location": {"city": "Mumbai"}})
    @blp.response(201, AuditionSchema, example=AUDITION_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def post(self, data):
        """Create an audition for a production you own (it starts as a `draft`)."""
        return services.create(current_user, data)


@blp.route("/<int:audition_id>")
class AuditionByIdViews(MethodView):
    @login_required()
    @blp.response(200, AuditionSchema, example=AUDITION_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, audition_id):
        """One audition, with its slots (its production's owner or an invited talent)."""
        return json_response(dumps_bytes(services.audition_json(audition_id, current_user)))

    @login_required()
    @blp.arguments(AuditionInputSchema, example={"instructions": "Bring a printed headshot."})
    @blp.response(200, AuditionSchema, example=AUDITION_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def put(self, changes, audition_id):
        """Edit an audition (its production's owner); fields left out stay as they are."""
        return services.update_audition(audition_id, current_user, changes)


@blp.route("/<int:audition_id>/schedule")
class ScheduleViews(MethodView):
    @login_required()
    @blp.arguments(ScheduleSchema, example={"start_at": "2026-12-05T10:00:00+05:30",
                                            "end_at": "2026-12-05T13:00:00+05:30",
                                            "slot_minutes": 15, "capacity_per_slot": 2})
    @blp.response(200, AuditionSchema, example=AUDITION_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def post(self, plan, audition_id):
        """Cut a window into slots; again to reschedule (bookings on unchanged slots stay)."""
        return services.schedule(audition_id, current_user, plan)


@blp.route("/<int:audition_id>/invite")
class InviteViews(MethodView):
    @login_required()
    @blp.arguments(InviteSchema, example={"talent_ids": [101, 102, 103]})
    @blp.response(202, InviteResultSchema, example={
        "invited": 2, "skipped": [{"talent_id": 103, "reason": "already_invited"}]})
    @error_responses(blp, 401, 403, 404)
    def post(self, data, audition_id):
        """Invite up to 500 talent at once; messages go out after the answer (WhatsApp, SMS fallback)."""
        invited, skipped = services.invite(audition_id, current_user, data["talent_ids"])
        return {"invited": invited, "skipped": skipped}


@blp.route("/<int:audition_id>/invitations")
class InvitationViews(MethodView):
    @login_required()
    @blp.arguments(InvitationQueryArgsSchema, location="query")
    @paginated(blp, InvitationSchema, INVITATION_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, args, audition_id):
        """An audition's invitations: every one for its owner, your own for an invited talent; newest first."""
        return services.invitations(audition_id, current_user, args)


@blp.route("/<int:audition_id>/rsvp")
class RsvpViews(MethodView):
    @login_required()
    @blp.arguments(RsvpSchema, example={"response": "accept", "slot_id": 1})
    @blp.response(200, InvitationSchema, example=INVITATION_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, answer, audition_id):
        """Answer an invitation (the invited talent): accept takes a slot or joins the waitlist."""
        return services.rsvp(audition_id, current_user, answer)


@blp.route("/<int:audition_id>/results")
class ResultViews(MethodView):
    @login_required()
    @blp.arguments(ResultsSchema, example={"talent_id": 101, "outcome": "callback", "rating": 4})
    @blp.response(200, InvitationSchema(many=True), example=[INVITATION_EXAMPLE])
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, data, audition_id):
        """Record outcomes (the owner): one, or a list as `results`; each joins the invitation's history."""
        return services.record_results(audition_id, current_user, data.get("results") or [data])


@blp.route("/<int:audition_id>/calendar.ics")
class AuditionCalendarViews(MethodView):
    @login_required()
    @blp.doc(responses=ICS)
    @error_responses(blp, 401, 404)
    def get(self, audition_id):
        """The audition as a calendar file: every slot for the owner, your own slot for invited talent."""
        audition = services.visible(audition_id, current_user)
        body = calendar.audition_ics(audition, current_user, services.is_owner(audition, current_user))
        return Response(body, mimetype="text/calendar")


calendar_blp = Blueprint("calendar", __name__, url_prefix="/api/calendar",
                         description="Calendar subscriptions (Google Calendar, Apple Calendar) by secret URL.")


class FeedSchema(Schema):
    id = Int32(required=True)
    url = fields.String(required=True, metadata={"description": "Shown once: keep it secret, revoke it if shared."})


@calendar_blp.route("/feeds")
class FeedViews(MethodView):
    @secret_answer
    @login_required()
    @calendar_blp.response(201, FeedSchema, example={
        "id": 2, "url": "https://api.casting.in/api/calendar/Xb3...q9.ics"})
    @error_responses(calendar_blp, 401)
    def post(self):
        """Make a secret feed URL of your auditions for a calendar app to subscribe to."""
        feed, token = calendar.open_feed(current_user)
        return {"id": feed.id, "url": public_url("calendar.FeedIcsViews", token=token)}


@calendar_blp.route("/feeds/<int:feed_id>")
class FeedByIdViews(MethodView):
    @login_required()
    @calendar_blp.response(204)
    @error_responses(calendar_blp, 401, 404)
    def delete(self, feed_id):
        """Revoke a feed URL: calendar apps using it get a 404 from now on."""
        calendar.revoke_feed(current_user, feed_id)


@calendar_blp.route("/<secret:token>.ics")
class FeedIcsViews(MethodView):
    @calendar_blp.doc(security=[], responses=ICS)
    @error_responses(calendar_blp, 404)
    def get(self, token):
        """A feed's calendar (no sign-in: the secret URL is the key)."""
        return Response(calendar.feed_ics(token), mimetype="text/calendar")
