"""The shared cache: in-process memory by default, Redis when CACHE_URL says so."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiocache import Cache, RedisCache
from aiocache.base import BaseCache
from aiocache.serializers import JsonSerializer

from core.cache_reads import CountReads

log = logging.getLogger(__name__)
T = TypeVar("T")

_cache: BaseCache | None = None
NAMESPACE = "anfu"


def build_cache(url: str) -> BaseCache:
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        db = int(parts.path.lstrip("/") or 0)
        return Cache(
            Cache.REDIS,
            endpoint=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=db,
            password=parts.password,
            namespace=NAMESPACE,
            serializer=JsonSerializer(),
            plugins=[CountReads()],
        )
    if parts.scheme in {"memory", ""}:
        return Cache(
            Cache.MEMORY, namespace=NAMESPACE, serializer=JsonSerializer(), plugins=[CountReads()]
        )
    raise ValueError(f"CACHE_URL must be memory:// or redis://, not {parts.scheme}://")


def cache() -> BaseCache:
    global _cache
    if _cache is None:
        from settings import get_settings

        _cache = build_cache(get_settings().cache_url)
    return _cache


def use_cache(new_cache: BaseCache | None) -> None:
    global _cache
    _cache = new_cache


async def close_cache() -> None:
    global _cache
    if _cache is not None:
        await _cache.close()
        _cache = None


class CacheUnavailable(Exception):
    """The shared cache did not answer (down, or slower than TIMEOUT_SECONDS)."""


# An answer slower than this counts as no answer: a request waits for the cache only so long.
TIMEOUT_SECONDS = 0.5
# After a failure the cache is left alone this long, so that an outage costs each request
# nothing instead of a timeout.
RETRY_AFTER_FAILURE_SECONDS = 5.0
_down_until = 0.0


async def shared(operation: Callable[[BaseCache], Awaitable[T]]) -> T:
    """Run `operation` on the shared cache, or raise CacheUnavailable while it is down."""
    global _down_until
    if time.monotonic() < _down_until:
        raise CacheUnavailable("the shared cache failed a moment ago")
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            return await operation(cache())
    except asyncio.CancelledError:
        raise
    except Exception as error:
        _down_until = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
        log.warning("shared cache unavailable (%s); using fallbacks for a while", error)
        raise CacheUnavailable(str(error)) from error


def mark_up() -> None:
    """Forget an earlier failure (tests that bring the cache back)."""
    global _down_until
    _down_until = 0.0


def redis_client(store: BaseCache) -> Any | None:
    """The redis-py client behind a Redis cache (for commands aiocache lacks), else None."""
    if isinstance(store, RedisCache):
        return store.client
    return None
