"""The shared-cache limits keep their whole window, whichever cache backend holds them."""

import time

import pytest
from django.core.cache import cache, caches
from django.db import connection

from socialsite import ratelimit

pytestmark = pytest.mark.django_db


def seconds_to_live(key):
    """How long the cache will keep `key`, read from the backend itself."""
    stored = cache.make_and_validate_key(key)
    backend = type(caches["default"]).__name__
    if backend == "RedisCache":
        return caches["default"]._cache.get_client(stored).ttl(stored)
    assert backend == "DatabaseCache", backend
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM django_cache WHERE cache_key = %s", [stored])
        (expires,) = cursor.fetchone()
    if isinstance(expires, str):  # SQLite hands back text
        from django.utils.dateparse import parse_datetime

        expires = parse_datetime(expires)
    return expires.timestamp() - time.time()


def test_a_window_counter_lives_to_the_end_of_its_window():
    """Django's generic incr (the database cache's) re-stored the count with the default 300 s
    timeout, so an hourly limit forgot its count after five quiet minutes."""
    window = 10**9  # the current window ends in 2033: years away, whenever the test runs
    for _ in range(3):
        ratelimit.hit("test", "203.0.113.7", limit=10, window=window)
    window_start = int(time.time() // window) * window
    key = f"{ratelimit._key('rl', 'test', '203.0.113.7')}:{window_start}"
    assert cache.get(key) == 3
    assert seconds_to_live(key) > 365 * 86400
