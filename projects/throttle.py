"""Counting failures per client in the cache, to slow down password and share-link guessing.

With REDIS_URL the cache is Redis, shared by every web process; otherwise it is per process,
which still bounds a guesser to the limit times the number of processes.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address, as seen by the first of TRUSTED_PROXIES proxies in front of the app.

    Each proxy appends the address it received the request from to X-Forwarded-For, so with N
    trusted proxies the Nth entry from the right is the client; anything further left was written by
    the client and is not trusted. With no proxy, or a header shorter than expected (a request that
    bypassed a proxy), REMOTE_ADDR is the answer.
    """
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    proxies = settings.TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


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
