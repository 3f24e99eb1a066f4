"""Counting failures per client in the cache, to slow down password and share-link guessing.

With REDIS_URL the cache is Redis, shared by every web process; otherwise it is per process,
which still bounds a guesser to the limit times the number of processes.
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    # Behind a proxy set it to overwrite REMOTE_ADDR; a client-supplied X-Forwarded-For is not trusted.
    return request.META.get("REMOTE_ADDR", "unknown")


def _key(scope: str, ident: str) -> str:
    return f"throttle:{scope}:{ident}"


def is_blocked(scope: str, ident: str, *, limit: int) -> bool:
    return (cache.get(_key(scope, ident)) or 0) >= limit


def record_failure(scope: str, ident: str, *, window: int) -> int:
    """Count one failure; the count expires `window` seconds after the first failure."""
    key = _key(scope, ident)
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def clear(scope: str, ident: str) -> None:
    cache.delete(_key(scope, ident))
