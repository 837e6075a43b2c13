"""Rate limits, who the client is, and how many live connections each user holds.

Counters live in the shared cache (Redis INCRBY with an expiry, in one MULTI) so that every
server process counts together. While the cache is down (core/cache.py) they live in the
process instead: each process then allows a full share, but nothing fails because of the
outage. With the in-process cache (CACHE_URL=memory://) the process is the whole server, and
the same in-process counters are the shared ones.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiocache.base import BaseCache

from core import cache
from core.errors import RateLimited
from core.principal import Principal
from settings import IPNetwork, get_settings

log = logging.getLogger(__name__)

# In-process counters kept at most; the oldest windows go first beyond it.
LOCAL_CAPACITY = 100_000


@dataclass(frozen=True)
class Count:
    """A counter after one hit: its value and the seconds until its window ends."""

    key: str
    value: int
    retry_after: int
    shared: bool


class LocalCounters:
    """Fixed-window counters in this process, bounded in number."""

    def __init__(self, capacity: int = LOCAL_CAPACITY) -> None:
        self.capacity = capacity
        # key -> [count, monotonic time the window ends], oldest window first
        self._counts: OrderedDict[str, list[float]] = OrderedDict()

    def hit(self, key: str, window_seconds: int, amount: int = 1) -> tuple[int, int]:
        now = time.monotonic()
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            if amount <= 0:
                return 0, 0
            entry = [0, now + window_seconds]
            self._counts[key] = entry
            self._counts.move_to_end(key)
            while len(self._counts) > self.capacity:
                self._counts.popitem(last=False)
        entry[0] = max(0, entry[0] + amount)
        return int(entry[0]), max(1, math.ceil(entry[1] - now))

    def clear(self) -> None:
        self._counts.clear()


local = LocalCounters()


async def hit(key: str, window_seconds: int) -> Count:
    """Count one event under `key` in a window that starts with its first event."""
    try:
        value, ttl = await cache.shared(lambda store: _shared_add(store, key, window_seconds, 1))
    except cache.CacheUnavailable:
        value, ttl = local.hit(key, window_seconds)
        return Count(key, value, ttl, shared=False)
    if value is None:
        value, ttl = local.hit(key, window_seconds)
        return Count(key, value, ttl, shared=False)
    return Count(key, value, ttl, shared=True)


async def take_back(counts: Iterable[Count]) -> None:
    """Undo hits that turned out not to count (a login that succeeded); never fails."""
    for count in counts:
        if not count.shared:
            local.hit(count.key, 1, -1)
            continue
        # When the cache is down the counter stays: it expires with its window.
        with contextlib.suppress(cache.CacheUnavailable):
            await cache.shared(_taking_back(count.key))


def _taking_back(key: str) -> Callable[[BaseCache], Awaitable[tuple[int | None, int]]]:
    return lambda store: _shared_add(store, key, 1, -1)


async def _shared_add(
    store: BaseCache, key: str, window_seconds: int, amount: int
) -> tuple[int | None, int]:
    """(count, seconds left) from Redis; (None, 0) for a cache that is this process."""
    client = cache.redis_client(store)
    if client is None:
        return None, 0
    name = store.build_key(key)
    async with client.pipeline(transaction=True) as pipe:
        pipe.incrby(name, amount)
        # NX: the window starts with its first event and later hits do not stretch it.
        pipe.expire(name, window_seconds, nx=True)
        pipe.ttl(name)
        value, _set, ttl = await pipe.execute()
    if amount < 0 and int(value) <= 0:
        await client.delete(name)
    return int(value), max(1, int(ttl))


async def limit(key: str, allowed: int, window_seconds: int, message: str) -> Count:
    """Count one event; RATE_LIMITED with a retry-after hint once `allowed` were used."""
    count = await hit(key, window_seconds)
    if count.value > allowed:
        raise RateLimited(message, retry_after=count.retry_after)
    return count


async def count_request(principal: Principal, client_address: str | None) -> None:
    """The overall budget: per signed-in user (all of its tokens together), else per address."""
    settings = get_settings()
    if principal.user_id is not None:
        key, allowed = f"requests:user:{principal.user_id}", settings.requests_per_user
    elif client_address:
        key, allowed = f"requests:address:{client_address}", settings.requests_per_address
    else:
        return
    await limit(
        key,
        allowed,
        settings.request_window_seconds,
        "Too many requests; slow down and try again shortly",
    )


async def count_registration(client_address: str | None) -> None:
    """Each registration attempt (consumer or merchant) from one address."""
    if not client_address:
        return
    settings = get_settings()
    await limit(
        f"registrations:address:{client_address}",
        settings.registrations_per_address,
        settings.registration_window_seconds,
        "Too many registrations from this address; try again later",
    )


async def count_redemption_code(user_id: int) -> None:
    settings = get_settings()
    await limit(
        f"redemption-codes:user:{user_id}",
        settings.redemption_codes_per_user,
        settings.redemption_code_window_seconds,
        "Too many redemption codes asked for; wait a few minutes",
    )


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[IPNetwork, ...]
) -> str | None:
    """The client's address: the direct peer, unless the peer is a trusted proxy; then the
    nearest address in X-Forwarded-For that is not a trusted proxy. Proxies append the
    address they heard from, so everything left of that is the client's to invent."""
    if peer is None or not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    nearest = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Not an address: nothing a proxy of ours wrote; the hop that passed it on answers.
            return nearest
        nearest = str(address)
        if not _is_trusted(address, trusted):
            return nearest
    return nearest


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("["):  # [v6]:port
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _is_trusted(
    address: str | ipaddress.IPv4Address | ipaddress.IPv6Address,
    trusted: tuple[IPNetwork, ...],
) -> bool:
    parsed = _address(address) if isinstance(address, str) else address
    return parsed is not None and any(parsed in network for network in trusted)


class ConnectionSlots:
    """Live WebSocket connections per user in this process (the resources they hold, queues
    and tasks, are the process's)."""

    def __init__(self) -> None:
        self._held: dict[int, int] = {}

    def take(self, user_id: int, allowed: int) -> bool:
        if self._held.get(user_id, 0) >= allowed:
            return False
        self._held[user_id] = self._held.get(user_id, 0) + 1
        return True

    def give_back(self, user_id: int) -> None:
        left = self._held.get(user_id, 0) - 1
        if left > 0:
            self._held[user_id] = left
        else:
            self._held.pop(user_id, None)

    def held(self, user_id: int) -> int:
        return self._held.get(user_id, 0)


websockets = ConnectionSlots()
