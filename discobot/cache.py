"""The Redis cache with one client per process.

Django keeps a cache object per context, and a request is a new context (ASGI, and the request
threads of discobot/serving.py): with Django's own class every request would open a connection
to Redis. The client and its connection pool are thread-safe, so the process shares one.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any, ClassVar

from django.core.cache.backends import redis


class RedisCache(redis.RedisCache):
    _clients: ClassVar[dict[str, redis.RedisCacheClient]] = {}
    _clients_lock: ClassVar[threading.Lock] = threading.Lock()

    @cached_property
    def _cache(self) -> Any:
        # Django's attributes, not in its type stubs.
        servers, options = self._servers, self._options  # type: ignore[attr-defined]
        key = repr((servers, sorted(options.items())))
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = redis.RedisCacheClient(servers, **options)
        return client
