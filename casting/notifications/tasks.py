"""RQ jobs of the notifications layer: they take ids, never ORM objects, and are idempotent."""
from casting.kernel.jobs import periodic


def deliver_notification(notification_id):
    from casting.notifications import services  # here, not above: the services enqueue these tasks
    return services.deliver(notification_id)


def delivery_failed(job, connection, exc_type, exc_value, traceback):
    """RQ's failure callback: only the last attempt (no retries left) settles the notification."""
    from casting.notifications import services  # here, not above: the services enqueue these tasks
    if job.retries_left:
        return
    services.give_up(job.args[0], f"gave up after retries: {getattr(exc_value, 'reason', exc_type.__name__)}")


@periodic("NOTIFY_RECONCILE_MINUTES")
def reconcile_notifications():
    """Settle notifications stuck with no job left to send them."""
    from casting.notifications import services  # here, not above: the services enqueue these tasks
    return services.reconcile_stale()
