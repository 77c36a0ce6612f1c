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


# Slots: a limit that concurrent requests cannot overrun. A request takes a slot *before* it does
# what is limited (checking a password) and holds it meanwhile; then it keeps the slot if what it
# did counts (a failure), or gives it back. A slot is one cache key, taken with `add`, which is
# atomic on every cache (Redis SET NX, the database cache's INSERT on its primary key): two racing
# requests never take the same slot, where a read-then-increment counter (the database cache's
# incr is a get and a set) lets them all pass. A slot's value: (PENDING or KEPT, its expiry time).
PENDING, KEPT = "pending", "kept"
# How long a request waits for slots that others hold pending: the answer of the one done alone
# (a correct password is no failure and frees its slot), not a captcha or a 9429 for a race.
SLOT_WAIT_SECONDS = 3


def _slot_keys(name, ident, slots, window_start=None):
    base = _key("slot", name, ident)
    if window_start is not None:
        base = f"{base}:{window_start}"
    return [f"{base}:{number}" for number in range(slots)]


def _take_free(keys, timeout):
    """The first of `keys` that this call adds, waiting while some are held pending; None when
    all are kept. get_many first, for the database cache: it deletes the expired rows it reads,
    so that add then inserts (atomic) instead of updating an expired row (a select and an update,
    which two requests may both do)."""
    deadline = time.monotonic() + SLOT_WAIT_SECONDS
    pause = 0.01
    while True:
        held = cache.get_many(keys)
        expires_at = time.time() + timeout
        raced = False  # a free slot that another request took first: pending too
        for key in keys:
            if key not in held:
                if cache.add(key, (PENDING, expires_at), timeout):
                    return key
                raced = True
        pending = raced or any(state == PENDING for state, _ in held.values())
        if not pending or time.monotonic() > deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def take_slot(name, ident, *, slots, window):
    """One of `slots` slots of `ident`, each held `window` seconds from its taking (a sliding
    window: the kept slots are the events of the last `window` seconds); its key, or None when
    all are kept."""
    return _take_free(_slot_keys(name, ident, slots), window)


def take_window_slot(name, ident, *, slots, window):
    """One of `slots` slots of `ident` in the current fixed window of `window` seconds (held to
    its end); its key, or 9429 with Retry-After (the end of the window) when all are kept."""
    now = time.time()
    window_start = int(now // window) * window
    remaining = window_start + window - now
    key = _take_free(_slot_keys(name, ident, slots, window_start), math.ceil(remaining))
    if key is None:
        raise _too_many(window_start + window - time.time())
    return key


def keep_slots(*keys):
    """Count what the holders of these slots did: they stay taken until they expire (None: a slot
    not taken)."""
    now = time.time()
    for key, (_, expires_at) in cache.get_many([key for key in keys if key]).items():
        if expires_at > now:
            cache.set(key, (KEPT, expires_at), math.ceil(expires_at - now))


def free_slots(*keys):
    """Give back the slots taken (None: a slot not taken)."""
    cache.delete_many([key for key in keys if key])


def renew_oldest_slot(name, ident, *, slots, window):
    """Count an event that found every slot kept (it passed a captcha instead): it takes the place
    of the slot that would free first, so that the slots stay kept while such events go on."""
    keys = _slot_keys(name, ident, slots)
    held = cache.get_many(keys)
    expires_at = time.time() + window
    free = [key for key in keys if key not in held]
    if free:
        cache.add(free[0], (KEPT, expires_at), window)
    elif held:
        oldest = min(held, key=lambda key: held[key][1])
        cache.set(oldest, (KEPT, expires_at), window)


def clear_slots(name, ident, *, slots):
    """Free every slot of `ident` taken with take_slot."""
    cache.delete_many(_slot_keys(name, ident, slots))


def clear_window_slots(name, ident, *, slots, window):
    """Free every slot of `ident` in the current window of take_window_slot."""
    window_start = int(time.time() // window) * window
    cache.delete_many(_slot_keys(name, ident, slots, window_start))
