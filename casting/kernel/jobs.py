"""RQ plumbing: named queues, trace-carrying jobs and the worker that `flask worker` runs."""
import logging
import time
from datetime import timedelta

from flask import current_app
from opentelemetry import context, propagate, trace
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.utils import utcparse
from sqlalchemy.exc import DBAPIError

from casting.kernel.extensions import db, queue_redis
from casting.kernel.logs import current_job_id, database_error_fields

log = logging.getLogger(__name__)
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


def get_queue(name="default"):
    """One of the configured queues (`high`, `default`, `low`), bound to the app's Redis."""
    if name not in current_app.config["RQ_QUEUES"]:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=queue_redis._get_current_object(), job_class=TracedJob)


def enqueue(queue_name, func, *args, delay=0, **kwargs):
    """Enqueue `func` (a callable or its dotted path) with the current trace context in its meta.

    With `delay` (seconds), the job waits that long in the scheduler first. Otherwise RQ's writes go in
    one round trip, and in a gevent worker the jobs enqueued at the same moment share it (`_together`);
    each call returns once its job is sent.
    """
    carrier = {}
    propagate.inject(carrier)
    queue = get_queue(queue_name)
    if delay:
        return queue.enqueue_in(timedelta(seconds=delay), func, *args, meta={"trace": carrier}, **kwargs)
    made = []
    _together(queue.connection, lambda pipe: made.append(
        queue.enqueue(func, *args, meta={"trace": carrier}, pipeline=pipe, **kwargs)))
    return made[0]


class _Gathering:
    """A pipeline that the greenlets enqueuing at one moment share (`_together`)."""

    def __init__(self, pipe):
        from gevent.event import Event

        self.pipe, self.sent, self.error = pipe, Event(), None


_gathering = {}  # a Redis connection pool's id -> the gathering it takes commands for now


def _together(connection, add):
    """Queue `add(pipe)`'s commands on a pipeline and return once it is sent (its error raised).

    In a gevent worker the greenlets that enqueue at the same moment share one pipeline: the first
    lets those ready to run go first (`gevent.sleep(0)`), and the ones that reach an enqueue meanwhile
    add their commands to its pipeline and wait for it to be sent. Each is answered only once its job
    is in Redis, as alone; they share the round trip. Elsewhere (the worker, the command line, tests'
    threads), one pipeline each."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        with connection.pipeline() as pipe:
            add(pipe)
            pipe.execute()
        return
    import gevent

    key = id(connection.connection_pool)
    gathering = _gathering.get(key)
    if gathering is not None:
        add(gathering.pipe)
        gathering.sent.wait()
        if gathering.error is not None:
            raise gathering.error
        return
    gathering = _gathering[key] = _Gathering(connection.pipeline())
    try:
        add(gathering.pipe)
        gevent.sleep(0)
        del _gathering[key]  # those who enqueue from now on gather anew
        gathering.pipe.execute()
    except BaseException as error:  # a greenlet killed while it leads too: those waiting hear of it
        if _gathering.get(key) is gathering:
            del _gathering[key]
        gathering.error = error if isinstance(error, Exception) else RuntimeError("the enqueue was interrupted")
        raise
    finally:
        gathering.pipe.reset()
        gathering.sent.set()


PERIODIC_QUEUE = "low"
# KEYS: the job's "next run at" key. ARGV: now, interval (seconds). 1 when the run is due (and the next
# one is now booked), else 0. A missing key (a new deploy, Redis wiped) is due at once: nothing to lose.
_CLAIM_RUN = """
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], math.floor(tonumber(ARGV[1]) + tonumber(ARGV[2])))
return 1
"""


def periodic(setting):
    """Make a job run every `config[setting]` minutes, on the `low` queue, once a domain's `init_app`
    registers it (`register_periodic`).

    The scheduler that holds the `low` queue's lock enqueues it when it is due (`enqueue_due_periodic_jobs`):
    the schedule is one "next run at" number per job in Redis, not a job record RQ can expire, so a job
    whose run failed, was lost with a killed worker or with Redis's data, is simply run again when due."""
    def decorate(func):
        func.periodic_setting = setting
        return func
    return decorate


def register_periodic(app, *jobs):
    """Have `flask worker` run these `@periodic` jobs for `app`."""
    app.extensions.setdefault("periodic_jobs", {}).update(
        {f"{job.__module__}.{job.__name__}": job for job in jobs})


def periodic_intervals(app):
    """{job path: (job, interval in seconds)} of every periodic job `app` registered."""
    return {path: (job, int(app.config[job.periodic_setting]) * 60)
            for path, job in app.extensions.get("periodic_jobs", {}).items()}


def periodic_key(path):
    return "casting:periodic:" + path


def enqueue_due_periodic_jobs(connection, intervals, now=None):
    """Enqueue each periodic job whose time has come (at most once per interval, whatever the number of
    schedulers); returns the paths enqueued."""
    now = time.time() if now is None else now
    claim = connection.register_script(_CLAIM_RUN)
    queue = Queue(PERIODIC_QUEUE, connection=connection, job_class=TracedJob)
    enqueued = []
    for path, (job, seconds) in sorted(intervals.items()):
        if claim(keys=[periodic_key(path)], args=[repr(now), seconds]):
            queue.enqueue(job, job_id=f"periodic-{path.replace('.', '-')}-{int(now)}", result_ttl=600,
                          failure_ttl=86400)
            enqueued.append(path)
    return enqueued


class CastingScheduler(RQScheduler):
    """RQ's scheduler, which also starts the periodic jobs that are due (when it holds their queue)."""

    periodic_intervals = {}

    def enqueue_scheduled_jobs(self):
        super().enqueue_scheduled_jobs()
        if PERIODIC_QUEUE in self._acquired_locks and self.periodic_intervals:
            enqueue_due_periodic_jobs(self.connection, self.periodic_intervals)


# KEYS: a queue's scheduler lock. ARGV: the stale holder's name. Deletes the lock if it still names it.
_BREAK_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def break_stale_scheduler_locks(connection, queue_names, stale_seconds, now=None):
    """Free the scheduler locks whose holder has not sent a heartbeat for `stale_seconds` (a scheduler
    killed with its worker keeps its lock for a minute, and RQ would retry only at its next 10-minute
    maintenance). Returns the queue names freed."""
    now = time.time() if now is None else now
    freed = []
    for name in queue_names:
        key = RQScheduler.get_locking_key(name)
        holder = connection.get(key)
        if holder is None:
            continue
        beat = connection.hget(SCHEDULER_KEY_TEMPLATE % holder.decode(), "last_heartbeat")
        if beat is not None and now - utcparse(beat.decode()).timestamp() < stale_seconds:
            continue
        if connection.eval(_BREAK_LOCK, 1, key, holder):
            log.warning("freed the scheduler lock of a silent scheduler", extra={"queue": name})
            freed.append(name)
    return freed


class CastingWorker(Worker):
    """An RQ worker whose log lines, and its work horse's, carry the job id, and which supervises its
    scheduler: every maintenance round (WORKER_MAINTENANCE_SECONDS, not RQ's 10 minutes) a scheduler
    that died (a Redis outage, a kill) is started again, taking over locks left by a silent one."""

    stale_scheduler_seconds = 15
    max_connection_wait_time = 5.0  # Redis back: working again within seconds (RQ backs off to a minute)

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

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=DEFAULT_LOGGING_DATE_FORMAT,
                         log_format=DEFAULT_LOGGING_FORMAT):
        """RQ's own start, with our scheduler class (RQ names its own class there)."""
        self.scheduler = CastingScheduler(self.queues, connection=self.connection,
                                          logging_level=logging_level if logging_level is not None else self.log.level,
                                          date_format=date_format, log_format=log_format, serializer=self.serializer)
        self.scheduler.periodic_intervals = self.periodic_intervals
        if not burst:
            break_stale_scheduler_locks(self.connection, self.queue_names(), self.stale_scheduler_seconds)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def run_maintenance_tasks(self):
        """RQ's maintenance, which must not end the worker when Redis is away (RQ lets the error out of its
        work loop, and the worker quits): it is tried again at the next round."""
        try:
            scheduler = self.scheduler
            if self.last_cleaned_at and scheduler and not (scheduler._process and scheduler._process.is_alive()):
                break_stale_scheduler_locks(self.connection, self.queue_names(), self.stale_scheduler_seconds)
            super().run_maintenance_tasks()
        except RedisConnectionError as error:
            self.log.warning("maintenance skipped: Redis unreachable (%s)", type(error).__name__)

    def heartbeat(self, timeout=None, pipeline=None):
        """As RQ's, but not fatal when Redis is away (RQ beats once outside its guarded loop, after a job)."""
        try:
            return super().heartbeat(timeout, pipeline)
        except RedisConnectionError as error:
            self.log.warning("heartbeat skipped: Redis unreachable (%s)", type(error).__name__)
            return None

    def check_for_suspension(self, burst):
        """As RQ's, but Redis being away is left to the dequeue loop, which waits for it instead of quitting."""
        try:
            return super().check_for_suspension(burst)
        except RedisConnectionError as error:
            self.log.warning("suspension not checked: Redis unreachable (%s)", type(error).__name__)
            return None


def _new_worker(queues, app):
    config = app.config
    connection = queue_redis._get_current_object()
    worker = CastingWorker([Queue(name, connection=connection, job_class=TracedJob) for name in queues],
                           connection=connection, job_class=TracedJob,
                           maintenance_interval=config["WORKER_MAINTENANCE_SECONDS"],
                           # the idle loop comes round every WORKER_MAINTENANCE_SECONDS / 2 (RQ: its ttl - 15)
                           worker_ttl=max(16, config["WORKER_MAINTENANCE_SECONDS"] // 2 + 15),
                           job_monitoring_interval=config["WORKER_MAINTENANCE_SECONDS"])
    worker.periodic_intervals = periodic_intervals(app)
    worker.stale_scheduler_seconds = config["SCHEDULER_STALE_SECONDS"]
    return worker


def _stopping(worker):
    """True once the worker was asked to stop (RQ marks a stop asked while idle only by its date)."""
    return worker._stop_requested or getattr(worker, "_shutdown_requested_date", None) is not None


def _wait_for_redis(worker):
    """Wait until Redis answers; False if a stop was asked meanwhile (the old worker's signal handlers
    still answer SIGTERM, and may raise while Redis is away)."""
    try:
        while not _stopping(worker):
            try:
                worker.connection.ping()
                return True
            except RedisConnectionError:
                time.sleep(1)
    except (StopRequested, RedisConnectionError):
        pass
    return False


def run_worker(queues, burst=False):
    """Work the named queues, with the scheduler, inside the current app context.

    RQ's worker quits on a Redis error met outside its dequeue loop; unless it was asked to stop, a new one
    starts as soon as Redis answers again (the process stays up: no process manager needed for an outage).
    """
    app = current_app._get_current_object()
    config = app.config
    while True:
        worker = _new_worker(queues, app)
        try:
            worked = worker.work(burst=burst, with_scheduler=True, logging_level=config["LOG_LEVEL"])
        except RedisConnectionError:
            worked = False
        if burst or _stopping(worker):
            return worked
        log.warning("the worker stopped on a Redis error: a new one starts when Redis answers")
        if not _wait_for_redis(worker):
            return worked
