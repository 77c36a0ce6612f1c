"""Limits and counters kept in the shared cache, so that they hold across all worker processes."""

import contextlib
import hashlib
import logging
import math
import time
from contextlib import contextmanager

from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from socialsite import errors
from socialsite.errors import ApiError

logger = logging.getLogger("socialsite.api")


def _key(kind, name, ident):
    """The cache key of `ident` (an email, an address, a user id). Hashed: an ident from a client
    may be long or hold NUL and spaces, which would break the database cache (a 255-character
    key column, no NUL on PostgreSQL) and memcached."""
    digest = hashlib.sha256(str(ident).encode(errors="surrogatepass")).hexdigest()
    return f"{kind}:{name}:{digest}"


def _too_many(retry_after):
    return ApiError(
        errors.TOO_MANY_REQUESTS, headers={"Retry-After": str(max(1, math.ceil(retry_after)))}
    )


def _increment(key, timeout):
    """Count one more in a counter that then lives `timeout` seconds. Atomic where the cache is
    (Redis); the key may expire between add and incr, so retry."""
    for _ in range(3):
        if cache.add(key, 1, timeout):
            return 1
        try:
            count = cache.incr(key)
        except ValueError:
            continue
        # Django's generic incr (the database cache's) stores the new count with the default
        # 300 s timeout: without this a window would shrink to 5 minutes after its second event.
        cache.touch(key, timeout)
        return count
    raise RuntimeError(f"cache counter {key} could not be incremented")


def cooldown(name, ident, *, seconds):
    """Allow one event per `seconds` for `ident`; 9429 with Retry-After otherwise."""
    now = time.time()
    key = _key("rl", name, ident)
    if not cache.add(key, now + seconds, seconds):
        raise _too_many((cache.get(key) or now + seconds) - now)


def release_cooldown(name, ident):
    cache.delete(_key("rl", name, ident))


def _count_in_window(name, ident, window):
    """Count one event for `ident` in the current fixed window of `window` seconds: returns the
    window's key, the count and the seconds left in the window."""
    now = time.time()
    window_start = int(now // window) * window
    key = f"{_key('rl', name, ident)}:{window_start}"
    remaining = window_start + window - now
    return key, _increment(key, math.ceil(remaining)), remaining


def hit(name, ident, *, limit, window):
    """Count one event for `ident` in the current fixed window of `window` seconds; 9429 with
    Retry-After (the end of the window) once more than `limit` events fall in it."""
    _, count, remaining = _count_in_window(name, ident, window)
    if count > limit:
        raise _too_many(remaining)


def take(name, ident, *, limit, window):
    """Take one of the `limit` slots of `ident` in the current fixed window of `window` seconds,
    before an action that may yet fail; 9429 with Retry-After (the end of the window) when all
    are taken. Returns the slot, to `give_back` if the action is not done: the count is of
    actions done, and concurrent requests never get more than `limit` slots between them."""
    key, count, remaining = _count_in_window(name, ident, window)
    slot = (key, time.time() + remaining)
    if count > limit:
        give_back(slot)  # a refused request takes no slot
        raise _too_many(remaining)
    return slot


def give_back(slot):
    """Free a slot of `take` whose action was not done."""
    key, window_end = slot
    remaining = math.ceil(window_end - time.time())
    if remaining > 0:
        with contextlib.suppress(ValueError):  # gone from the cache: nothing to give back
            cache.decr(key)
            cache.touch(key, remaining)  # decr, like incr, resets the database cache's timeout


def record_failure(name, ident, *, window):
    """Count a failure; the count lives until `window` seconds pass without a new failure."""
    _increment(_key("fail", name, ident), window)


def failures(name, ident):
    return cache.get(_key("fail", name, ident), 0)


def refuse_after_failures(name, ident, *, limit, window):
    """9429 with Retry-After `window` once `ident` has `limit` failures counted; returns the
    count otherwise."""
    count = failures(name, ident)
    if count >= limit:
        raise _too_many(window)
    return count


def clear_failures(name, ident):
    cache.delete(_key("fail", name, ident))


class ActionLimit:
    """At most `limit` accepted actions (posts, comments) per `ident` in any `window` seconds: a
    sliding window over the moments of the last `limit` accepted actions, kept under one key.

    `check` refuses early (API.md's check order puts rate limits before the missing parameters)
    and counts nothing; `count` counts an action when it is stored and refuses when there is no
    room left. The key is read and written again, which the cache does not make atomic, so
    `count` must run while the writes of `ident` are serialized (its caller holds a lock on the
    user's row): two concurrent actions then never both see room for one.

    Unlike the limits above, these are no security check that must fail closed (API.md lists the
    endpoints that answer 9503 without the cache): while Redis cannot be reached the actions go
    through uncounted, and a warning is logged."""

    def __init__(self, name, *, limit, window):
        self.name, self.limit, self.window = name, limit, window

    def _recent(self, ident, now):
        moments = cache.get(_key("actions", self.name, ident), [])
        return [moment for moment in moments if moment > now - self.window]

    def _refuse_when_full(self, moments, now):
        if len(moments) >= self.limit:
            # room for one more when the oldest of the last `limit` leaves the window
            raise _too_many(moments[-self.limit] + self.window - now)

    def check(self, ident):
        """9429 with Retry-After when `ident` has no room for one more action; counts nothing."""
        with self._skipped_while_the_cache_is_down():
            now = time.time()
            self._refuse_when_full(self._recent(ident, now), now)

    def count(self, ident):
        """Count one accepted action of `ident`, or 9429 when there is no room for it."""
        with self._skipped_while_the_cache_is_down():
            now = time.time()
            moments = self._recent(ident, now)
            self._refuse_when_full(moments, now)
            kept = [*moments, now][-self.limit :]
            # a second more: the database cache rounds expiry times down to the second
            cache.set(_key("actions", self.name, ident), kept, math.ceil(self.window) + 1)

    @contextmanager
    def _skipped_while_the_cache_is_down(self):
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning(
                "Action limit %r not applied, the cache is unreachable: %r", self.name, exc
            )
