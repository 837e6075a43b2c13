"""The shared cache: in-process memory by default, Redis when CACHE_URL says so."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiocache import Cache
from aiocache.base import BaseCache
from aiocache.serializers import JsonSerializer

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
        )
    if parts.scheme in {"memory", ""}:
        return Cache(Cache.MEMORY, namespace=NAMESPACE, serializer=JsonSerializer())
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


async def hit(key: str, window_seconds: int) -> int:
    """Count one event under `key` in a fixed window; returns the count so far."""
    store = cache()
    count = await store.increment(key)
    if count == 1:
        await store.expire(key, window_seconds)
    return int(count)
