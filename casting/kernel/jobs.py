"""RQ plumbing: named queues, trace-carrying jobs and the worker that `flask worker` runs."""
from datetime import timedelta
from functools import wraps

from flask import current_app
from opentelemetry import context, propagate, trace
from rq import Queue, Worker
from rq.job import Job
from sqlalchemy.exc import DBAPIError

from casting.kernel.extensions import db, redis
from casting.kernel.logs import current_job_id, database_error_fields

tracer = trace.get_tracer("casting.jobs")


class JobDatabaseError(RuntimeError):
    """A job's database error, described without its message (RQ logs and keeps a failed job's traceback)."""


class TracedJob(Job):
    """A job that continues the trace of the request that enqueued it."""

    def perform(self):
        parent = propagate.extract(self.meta.get("trace", {}))
        token = context.attach(parent)
        try:
            with tracer.start_as_current_span(f"rq {self.func_name}", attributes={
                    "messaging.system": "rq", "messaging.message.id": self.id,
                    "messaging.destination.name": self.origin}):
                try:
                    return super().perform()
                except DBAPIError as error:  # PostgreSQL's message can quote a query's values
                    raise JobDatabaseError(database_error_fields(error, error.__traceback__)) from None
        finally:
            context.detach(token)


class CastingWorker(Worker):
    """An RQ worker whose log lines, and its work horse's, carry the job id."""

    def main_work_horse(self, job, queue):
        """In the forked work horse: never reuse the parent's pooled database connections."""
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

    def execute_job(self, job, queue):
        token = current_job_id.set(job.id)
        try:
            return super().execute_job(job, queue)
        finally:
            current_job_id.reset(token)


def get_queue(name="default"):
    """One of the configured queues (`high`, `default`, `low`), bound to the app's Redis."""
    if name not in current_app.config["RQ_QUEUES"]:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis._get_current_object(), job_class=TracedJob)


def enqueue(queue_name, func, *args, delay=0, **kwargs):
    """Enqueue `func` (a callable or its dotted path) with the current trace context in its meta.

    With `delay` (seconds), the job waits that long in the scheduler first.
    """
    carrier = {}
    propagate.inject(carrier)
    queue = get_queue(queue_name)
    if delay:
        return queue.enqueue_in(timedelta(seconds=delay), func, *args, meta={"trace": carrier}, **kwargs)
    return queue.enqueue(func, *args, meta={"trace": carrier}, **kwargs)


def periodic(setting):
    """Make a job that runs every `config[setting]` minutes once a domain's `init_app` registers it
    (`register_periodic`): each run books the next when it ends, and `flask worker` books the first. The
    booking's job id is the job's path, so it is booked once, whatever the number of workers."""
    def decorate(func):
        path = f"{func.__module__}.{func.__name__}"

        @wraps(func)
        def run(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            finally:
                book(path, setting)
        run.periodic = (path, setting)
        return run
    return decorate


def register_periodic(app, *jobs):
    """Have `flask worker` book these `@periodic` jobs for `app`."""
    app.extensions.setdefault("periodic_jobs", {}).update(job.periodic for job in jobs)


def periodic_job_id(path):
    return "periodic-" + path.replace(".", "-")


def book(path, setting):
    """Book the next run of the periodic job at `path`, `config[setting]` minutes from now."""
    minutes = current_app.config[setting]
    get_queue("low").enqueue_in(timedelta(minutes=minutes), path, job_id=periodic_job_id(path), result_ttl=600)


def book_periodic_jobs():
    for path, setting in current_app.extensions.get("periodic_jobs", {}).items():
        book(path, setting)


def run_worker(queues, burst=False):
    """Work the named queues, with the scheduler, inside the current app context."""
    connection = redis._get_current_object()
    worker = CastingWorker([Queue(name, connection=connection, job_class=TracedJob) for name in queues],
                           connection=connection, job_class=TracedJob)
    return worker.work(burst=burst, with_scheduler=True,
                       logging_level=current_app.config["LOG_LEVEL"])
