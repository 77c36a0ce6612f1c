"""The Redis cache of CACHE_URL, with one set of connections per process.

Django keeps a cache object per thread and, under ASGI, per request (its cache handler is
context-local), and its RedisCache builds a new connection pool for each object: under ASGI
every request opened a connection of its own to Redis and dropped it (django/django pull
request 18459), and every cache call built a redis.Redis client as well. This backend shares
one client, and so its pools, among the cache objects of a process with the same location and
options; redis-py's pools are thread-safe and start afresh in a forked child."""

import threading

from django.core.cache.backends import redis as django_redis
from django.utils.functional import cached_property

_shared_clients = {}
_shared_clients_lock = threading.Lock()


class RedisCacheClient(django_redis.RedisCacheClient):
    """Django's, with one redis.Redis client kept per connection pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients_by_pool = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients_by_pool.get(id(pool))
        if client is None:
            client = self._clients_by_pool.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _shared_clients_lock:
            if key not in _shared_clients:
                _shared_clients[key] = RedisCacheClient(self._servers, **self._options)
            return _shared_clients[key]
