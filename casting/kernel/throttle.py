"""Counting requests and attempts in Redis.

Per route: every request is counted by `casting.auth.principal.check_request` against RATELIMIT_DEFAULT,
or against the setting a view names with `@rate_limit("RATELIMIT_SEARCH")` (its own budget, for routes
where the default does not fit), per signed-in user or, anonymous, per client IP.

Guards that are not per route use two kinds of counter:

- `hit` / `wait_seconds`: the rate limiter's moving windows (a hit is atomic and refused when over).
- `reserve` / `release`: attempts counted *before* the work they guard, all-or-nothing over several
  limits in one Lua script, so parallel requests can never get more checks than the limit allows;
  `release` hands a reservation back when the attempt turns out not to count (a good password).
"""
import hashlib
import math
import time
from functools import lru_cache

from flask import current_app
from limits import parse

from casting.kernel.extensions import limiter, redis

_RESERVE = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then
    return math.max(redis.call('TTL', key), 1)
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 or redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, ARGV[2 * i])
  end
end
return 0
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


_ROUTE_LIMIT_NOTE = ("Rate limit: `{setting}` (this route's own budget instead of `RATELIMIT_DEFAULT`), per signed-in "
                     "user, or per client IP when anonymous; the `RateLimit-*` headers say where you stand.")


def rate_limit(setting):
    """Count the decorated view against config `setting` instead of RATELIMIT_DEFAULT.

    The limit is still per route and per caller (the signed-in user, else the client IP), counted in
    the request's one round trip; the view's OpenAPI description says which setting applies.
    """
    def decorate(view):
        view.rate_limit_setting = setting
        lines = (view.__doc__ or "").rstrip().splitlines()
        indent = " " * min((len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()), default=0)
        view.__doc__ = "\n".join([*lines, "", indent + _ROUTE_LIMIT_NOTE.format(setting=setting)])
        return view
    return decorate


def route_limit_setting(view, method):
    """The setting `@rate_limit` named for this view function and HTTP method, else RATELIMIT_DEFAULT."""
    handler = getattr(getattr(view, "view_class", None), method.lower(), view)
    return getattr(handler, "rate_limit_setting", None) or "RATELIMIT_DEFAULT"


@lru_cache(maxsize=64)
def parsed_limit(value):
    """The rate limit a setting's value names (`"12/10 second"`), parsed once."""
    return parse(value)


def _keys(name, subject):
    return name, hashlib.sha256(str(subject).encode()).hexdigest()


def hit(setting, name, subject):
    """Count one attempt against the limit in config `setting`; False when that goes over it."""
    return limiter.limiter.hit(parsed_limit(current_app.config[setting]), *_keys(name, subject))


def hit_many(setting, name, subjects):
    """`hit` for each of `subjects` in one Redis round trip (the limiter's own script, pipelined);
    returns the subjects whose attempt went over the limit (and so was not counted)."""
    item = parsed_limit(current_app.config[setting])
    storage = limiter.limiter.storage
    script = getattr(storage, "lua_acquire_moving_window", None)
    if script is None or not hasattr(storage, "prefixed_key"):  # not Redis: one call each
        return {subject for subject in subjects if not hit(setting, name, subject)}
    with storage.get_connection().pipeline(transaction=False) as pipe:
        for subject in subjects:
            key = storage.prefixed_key(item.key_for(*_keys(name, subject)))
            script(keys=[key], args=[time.time(), item.amount, item.get_expiry(), 1], client=pipe)
        acquired = pipe.execute()
    return {subject for subject, ok in zip(subjects, acquired) if not ok}


def hit_on(pipe, setting, name, subject):
    """Queue `hit` on a Redis pipeline of the caller's (one round trip for it and the caller's own
    commands); its reply, once the pipeline has run, is true when the attempt was counted."""
    item = parsed_limit(current_app.config[setting])
    storage = limiter.limiter.storage
    script = getattr(storage, "lua_acquire_moving_window", None)
    if script is None or not hasattr(storage, "prefixed_key"):  # not Redis: counted now, on its own
        pipe.echo("1" if hit(setting, name, subject) else "")
        return
    key = storage.prefixed_key(item.key_for(*_keys(name, subject)))
    # EVAL with the script's text: a registered script would cost the pipeline a SCRIPT EXISTS round trip
    pipe.eval(script.script, 1, key, time.time(), item.amount, item.get_expiry(), 1)


def refund_on(pipe, setting, name, subject):
    """Queue on a Redis pipeline the return of the newest attempt `hit_on` counted for `subject` (an attempt
    counted before its work turned out not to count, such as a repeated send). The moving window keeps
    one timestamp per attempt, newest first: dropping the newest gives one attempt back."""
    storage = limiter.limiter.storage
    if getattr(storage, "lua_acquire_moving_window", None) is None or not hasattr(storage, "prefixed_key"):
        return  # not Redis: nothing kept that could be handed back
    item = parsed_limit(current_app.config[setting])
    pipe.lpop(storage.prefixed_key(item.key_for(*_keys(name, subject))))


def wait_seconds(setting, name, subject):
    """0 while attempts remain under the limit in config `setting`, else seconds until one frees up."""
    item = parsed_limit(current_app.config[setting])
    if limiter.limiter.test(item, *_keys(name, subject)):
        return 0
    reset_at, _ = limiter.limiter.get_window_stats(item, *_keys(name, subject))
    return max(1, math.ceil(reset_at - time.time()))


def _counters(limits):
    keys, args = [], []
    for setting, name, subject in limits:
        item = parsed_limit(current_app.config[setting])
        keys.append("casting:attempts:{}:{}".format(*_keys(name, subject)))
        args += [item.amount, item.get_expiry()]
    return keys, args


def reserve(*limits):
    """Count one attempt against every `(setting, name, subject)` at once, before the attempt is checked.

    Returns 0 when all had room (each now counts the attempt), else the seconds until the fullest
    one frees up (and nothing was counted). Atomic: N parallel callers get at most `limit` zeros.
    """
    keys, args = _counters(limits)
    return int(redis.eval(_RESERVE, len(keys), *keys, *args))


def release(*limits):
    """Hand back one reserved attempt on each of `limits` (the attempt turned out not to count)."""
    keys, _ = _counters(limits)
    redis.eval(_RELEASE, len(keys), *keys)
