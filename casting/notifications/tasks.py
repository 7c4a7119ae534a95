"""RQ jobs of the notifications layer: they take ids, never ORM objects, and are idempotent."""
from datetime import timedelta

from flask import current_app

from casting.jobs import get_queue
from casting.notifications import services


def deliver_notification(notification_id):
    return services.deliver(notification_id)


def delivery_failed(job, connection, exc_type, exc_value, traceback):
    """RQ's failure callback: only the last attempt (no retries left) settles the notification."""
    if job.retries_left:
        return
    services.give_up(job.args[0], f"gave up after retries: {getattr(exc_value, 'reason', exc_type.__name__)}")


RECONCILE_JOB_ID = "notifications-reconcile"


def reconcile_notifications():
    """Settle stuck notifications, then book the next run (one booking, whatever the worker count)."""
    settled = services.reconcile_stale()
    schedule_reconcile()
    return settled


def schedule_reconcile():
    get_queue("low").enqueue_in(timedelta(minutes=current_app.config["NOTIFY_RECONCILE_MINUTES"]),
                                "casting.notifications.tasks.reconcile_notifications",
                                job_id=RECONCILE_JOB_ID, result_ttl=600)
