from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from casting.auth import cached_response, login_required
from casting.calls import fit, services
from casting.calls.schemas import (CALL_EXAMPLE, FOR_ME_EXAMPLE, NOTE_EXAMPLE, REVIEWED_EXAMPLE, SUBMISSION_EXAMPLE,
                                   CallCreateSchema, CallInviteResultSchema, CallInviteSchema, CallQuerySchema,
                                   CallSchema, CallUpdateSchema, DigestInputSchema, DigestSchema, ForMeQuerySchema,
                                   ForMeSchema, MySubmissionQuerySchema, NoteInputSchema, NoteSchema,
                                   ReviewedSubmissionSchema, ReviewResultSchema, ReviewSchema, SubmissionQuerySchema,
                                   SubmissionSchema, SubmitSchema)
from casting.kernel.jsonprovider import json_response
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import page, page_of, paginated
from casting.talents import cache as talent_cache

blp = Blueprint("calls", __name__, url_prefix="/api/calls",
                description="Open casting calls: roles open to submissions, roles for me, applying and reviewing.")


_FOR_ME_PAGE = page_of(ForMeSchema)()
_REVIEWED_PAGE = page_of(ReviewedSubmissionSchema)()


def _presented_to_talent(items):
    return services.present(items, current_user, False)


@blp.route("/")
class CallViews(MethodView):
    @login_required()
    @blp.arguments(CallQuerySchema, location="query")
    @paginated(blp, CallSchema, CALL_EXAMPLE)
    @error_responses(blp, 401)
    def get(self, args):
        """Open calls, soonest deadline first, filtered; `sort` by `deadline`, `created_at` or `pay_inr`.

        Only calls taking submissions now (open, before the deadline) that the scam shield has not held;
        with `mine`, the calls of your own productions in any state.
        """
        return services.listing(current_user, args)

    @login_required()
    @blp.arguments(CallCreateSchema, example={
        "role_id": 11, "deadline": "2026-12-20T18:00:00+05:30", "category": "supporting", "eligibility": "all",
        "portfolio_min": 1, "questions": ["Can you do a Lucknowi accent?"], "submission_cap": 500,
        "self_tape": True})
    @blp.response(201, CallSchema, example=CALL_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, data):
        """Open a role to submissions (the production's owner or an admin); one call per role.

        The scam shield screens the call's words as it does every posting: a held call is seen by its owner
        and admins only until the safety team reviews it.
        """
        return services.create(current_user, data)


def _for_me_versions(user_id, path):
    """What a cached page of roles for me depends on (`cached_response`): the calls' version, and your own
    profile's columns that it reads (another talent's edit, or a new day rate of yours, leaves it be); a
    profile named by `talent_id` (an agent's, an admin's pick) follows every profile write."""
    if request.args.get("talent_id"):
        return [services.VERSION_KEY, talent_cache.VERSION_KEY]
    return [services.VERSION_KEY, *talent_cache.own_profile_versions(user_id, fit.TOPICS)]


@blp.route("/for-me")
class ForMeViews(MethodView):
    @cached_response(_for_me_versions)
    @login_required()
    @blp.arguments(ForMeQuerySchema, location="query")
    @paginated(blp, ForMeSchema, FOR_ME_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, args):
        """Roles for me: open calls ranked by how well your profile fits the role, with reasons, best first.

        Role matching in reverse, with its weights: only roles whose hard requirements you meet (gender,
        playing age or age, a required city; verified-only and agents-only calls when that is you), scored
        on skills, languages at the needed proficiency, city, experience, profile completeness,
        verification and, when both have embeddings, likeness. Agents pass `talent_id`.
        """
        def dump(items, total):
            return _FOR_ME_PAGE.dump(page([{"call": call, "score": score, "reasons": reasons}
                                           for call, score, reasons in items], total, args["page"], args["per_page"]))

        return json_response(services.roles_for_me(current_user, args, dump))


@blp.route("/digest")
class DigestViews(MethodView):
    @login_required()
    @blp.response(200, DigestSchema, example={"enabled": True, "channel": "whatsapp", "last_sent_at": None})
    @error_responses(blp, 401)
    def get(self):
        """Your daily digest of new roles for you: on or off, and on which channel."""
        return _digest(services.digest(current_user))

    @login_required()
    @blp.arguments(DigestInputSchema, example={"enabled": True, "channel": "email"})
    @blp.response(200, DigestSchema, example={"enabled": True, "channel": "email", "last_sent_at": None})
    @error_responses(blp, 401, 403)
    def put(self, data):
        """Opt in to (or out of) a daily digest of new roles for you, on WhatsApp or email (talent).

        At most one message a day, only when new calls fit you; each carries a link that unsubscribes.
        """
        return _digest(services.set_digest(current_user, data))


def _digest(subscription):
    if subscription is None:
        return {"enabled": False, "channel": None, "last_sent_at": None}
    return {"enabled": True, "channel": subscription.channel, "last_sent_at": subscription.last_sent_at}


@blp.route("/digest/unsubscribe/<secret:token>")
class DigestUnsubscribeViews(MethodView):
    @blp.doc(security=[])
    @blp.response(204)
    @error_responses(blp, 404)
    def get(self, token):
        """The digest's unsubscribe link (no sign-in: the link is the proof); stops the digest at once."""
        services.unsubscribe(token)

    @blp.doc(security=[])
    @blp.response(204)
    @error_responses(blp, 404)
    def post(self, token):
        """One-click unsubscribe (RFC 8058 `List-Unsubscribe-Post`), the same as following the link."""
        services.unsubscribe(token)


@blp.route("/submissions")
class MySubmissionViews(MethodView):
    @login_required()
    @blp.arguments(MySubmissionQuerySchema, location="query")
    @paginated(blp, SubmissionSchema, SUBMISSION_EXAMPLE, present=_presented_to_talent)
    @error_responses(blp, 401)
    def get(self, args):
        """Your submissions (talent), or those of the talent you represent (agents), newest first."""
        return services.my_submissions(current_user, args)


@blp.route("/submissions/<int:submission_id>")
class SubmissionViews(MethodView):
    @login_required()
    @blp.response(200, ReviewedSubmissionSchema, example=REVIEWED_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, submission_id):
        """One submission: its applicant sees its status; the casting team also sees the talent, the match
        score and their private notes. Anyone else: 404."""
        submission, reviewer = services.submission_for(submission_id, current_user)
        return services.present([submission], current_user, reviewer)[0]  # the team's fields for the team only


@blp.route("/submissions/<int:submission_id>/withdraw")
class WithdrawViews(MethodView):
    @login_required()
    @blp.response(200, SubmissionSchema, example={**SUBMISSION_EXAMPLE, "status": "withdrawn"})
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, submission_id):
        """Withdraw a submission (the talent or their agent), while the call is open and before its deadline."""
        return services.present([services.withdraw(submission_id, current_user)], current_user, False)[0]


@blp.route("/submissions/<int:submission_id>/notes")
class NoteViews(MethodView):
    @login_required()
    @blp.arguments(NoteInputSchema, example={"body": "Strong dancer; check Hindi.", "rating": 4})
    @blp.response(201, NoteSchema, example=NOTE_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def post(self, data, submission_id):
        """A private note and/or a 1-5 rating (the casting team); the applicant never sees it."""
        return services.add_note(submission_id, current_user, data)


@blp.route("/<int:call_id>")
class CallByIdViews(MethodView):
    @login_required()
    @blp.response(200, CallSchema, example=CALL_EXAMPLE)
    @error_responses(blp, 401, 404)
    def get(self, call_id):
        """One call (a held one, or one of a draft production, is a 404 but for its owner and admins)."""
        return services.visible(call_id, current_user)

    @login_required()
    @blp.arguments(CallUpdateSchema, example={"status": "closed"})
    @blp.response(200, CallSchema, example={**CALL_EXAMPLE, "status": "closed", "is_open": False})
    @error_responses(blp, 401, 403, 404, 409)
    def put(self, changes, call_id):
        """Edit a call, close it, or reopen it before its deadline (owner or admin).

        Closing tells everyone still waiting (submitted, viewed or shortlisted, not yet invited), once.
        """
        return services.edit(call_id, current_user, changes)


@blp.route("/<int:call_id>/submissions")
class CallSubmissionViews(MethodView):
    @cached_response(services.submissions_versions)
    @login_required()
    @blp.arguments(SubmissionQuerySchema, location="query")
    @paginated(blp, ReviewedSubmissionSchema, REVIEWED_EXAMPLE)
    @error_responses(blp, 401, 403, 404)
    def get(self, args, call_id):
        """The call's submissions for its casting team, newest first; `sort=-match_score` for best match."""
        return json_response(services.submissions_json(call_id, current_user, args, _REVIEWED_PAGE.dump))

    @login_required()
    @blp.arguments(SubmitSchema, example={"cover_note": "I trained in Kathak for eight years.",
                                          "portfolio_ids": [9], "answers": ["Yes, natively."]})
    @blp.response(201, SubmissionSchema, example=SUBMISSION_EXAMPLE)
    @error_responses(blp, 401, 403, 404, 409, 422)
    def post(self, data, call_id):
        """Submit to a call: a talent their own profile, an agent a talent they represent (`talent_id`).

        One submission per talent per call, whoever sends it (409 `CALL_008`). Refused after the deadline
        or once closed (409 `CALL_003`), beyond the cap (409 `CALL_004`), without what the call asks for
        (422 `CALL_005`, naming each field), or from someone the call does not take (403 `CALL_006`).
        """
        return services.submit(call_id, current_user, data)


@blp.route("/<int:call_id>/submissions/status")
class ReviewViews(MethodView):
    @login_required()
    @blp.arguments(ReviewSchema, example={"submission_ids": [41, 42, 43], "status": "shortlisted"})
    @blp.response(200, ReviewResultSchema, example={"updated": 2, "skipped": [
        {"submission_id": 43, "reason": "not_allowed"}]})
    @error_responses(blp, 401, 403, 404)
    def post(self, data, call_id):
        """Mark up to 500 submissions viewed, shortlisted or declined (the casting team).

        Shortlisted and declined talent are told (once each), through the notifications layer.
        """
        updated, skipped = services.review(call_id, current_user, data["submission_ids"], data["status"])
        return {"updated": updated, "skipped": skipped}


@blp.route("/<int:call_id>/invite")
class CallInviteViews(MethodView):
    @login_required()
    @blp.arguments(CallInviteSchema, example={"audition_id": 4})
    @blp.response(202, CallInviteResultSchema, example={"invited": 2, "skipped": []})
    @error_responses(blp, 401, 403, 404, 422)
    def post(self, data, call_id):
        """Invite shortlisted submissions to an audition of the production in one call (the casting team).

        It is the auditions' bulk invite: the WhatsApp invitations, RSVPs and reminders follow. Invited
        submissions become `invited`.
        """
        invited, skipped = services.invite(call_id, current_user, data)
        return {"invited": invited, "skipped": skipped}
