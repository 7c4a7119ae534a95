"""Enqueued jobs: the greenlets of a gevent worker that enqueue at one moment share one Redis round trip."""
import gevent
import pytest
from gevent import monkey
from redis.client import Pipeline

from casting.kernel.jobs import enqueue, get_queue
from tests.support import run_jobs


@pytest.fixture
def sent(monkeypatch):
    """The number of commands of each Redis pipeline sent during the test."""
    sizes = []
    execute = Pipeline.execute

    def counted(pipe, *args, **kwargs):
        sizes.append(len(pipe.command_stack))
        return execute(pipe, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counted)
    return sizes


def test_greenlets_enqueuing_at_one_moment_share_one_round_trip_and_each_job_is_queued(app, monkeypatch, sent):
    monkeypatch.setattr(monkey, "is_module_patched", lambda name: True)  # as in gunicorn's gevent workers

    def one(n):
        with app.test_request_context():
            return enqueue("low", "math.factorial", n)

    greenlets = [gevent.spawn(one, n) for n in range(1, 6)]
    gevent.joinall(greenlets, raise_error=True)
    jobs = [greenlet.value for greenlet in greenlets]
    assert len(sent) == 1 and sent[0] >= 5  # the five jobs, one pipeline
    with app.app_context():
        assert set(get_queue("low").job_ids) == {job.id for job in jobs}
    run_jobs(app)
    assert [job.return_value(refresh=True) for job in jobs] == [1, 2, 6, 24, 120]


def test_outside_a_gevent_worker_each_enqueue_is_its_own_round_trip(app, sent):
    with app.test_request_context():
        jobs = [enqueue("low", "math.factorial", n) for n in (3, 4)]
    assert len(sent) == 2
    run_jobs(app)
    assert [job.return_value(refresh=True) for job in jobs] == [6, 24]


def test_the_greenlets_waiting_on_a_killed_leader_hear_of_it_and_nothing_is_sent(app, monkeypatch):
    """The first greenlet sends for all: killed before it does (a worker's timeout, a shutdown), the
    others are told at once instead of waiting for ever, and their jobs were not queued."""
    monkeypatch.setattr(monkey, "is_module_patched", lambda name: True)
    yielded = gevent.sleep

    def killed_as_it_yields(*args, **kwargs):  # the leader lets the others join, and is killed meanwhile
        yielded(*args, **kwargs)
        if gevent.getcurrent() is leader:
            raise gevent.GreenletExit

    monkeypatch.setattr(gevent, "sleep", killed_as_it_yields)

    def one(n):
        with app.test_request_context():
            return enqueue("low", "math.factorial", n)

    leader = gevent.spawn(one, 1)
    followers = [gevent.spawn(one, n) for n in (2, 3)]
    gevent.joinall([leader, *followers], timeout=5)
    assert all(greenlet.dead for greenlet in followers)
    assert all(isinstance(greenlet.exception, RuntimeError) for greenlet in followers), \
        [greenlet.exception for greenlet in followers]
    with app.app_context():
        assert get_queue("low").job_ids == []
