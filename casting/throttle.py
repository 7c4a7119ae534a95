"""Counting attempts in Redis (the rate limiter's moving windows) for guards that are not per route."""
import hashlib
import math
import time

from flask import current_app
from limits import parse

from casting.extensions import limiter


def _keys(name, subject):
    return name, hashlib.sha256(str(subject).encode()).hexdigest()


def hit(setting, name, subject):
    """Count one attempt against the limit in config `setting`; False when that goes over it."""
    return limiter.limiter.hit(parse(current_app.config[setting]), *_keys(name, subject))


def wait_seconds(setting, name, subject):
    """0 while attempts remain under the limit in config `setting`, else seconds until one frees up."""
    item = parse(current_app.config[setting])
    if limiter.limiter.test(item, *_keys(name, subject)):
        return 0
    reset_at, _ = limiter.limiter.get_window_stats(item, *_keys(name, subject))
    return max(1, math.ceil(reset_at - time.time()))
