"""Live events (card activity, risk alerts) fanned out to subscribers.

In one process an in-memory bus is enough; with several server processes the
bus goes through Redis pub/sub, chosen by CACHE_URL like the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from models.ledger import Transfer

log = logging.getLogger(__name__)

CARD_ACTIVITY = "card_activity"
RISK_ALERTS = "risk_alerts"
_QUEUE_SIZE = 256


class EventBus(Protocol):
    async def publish(self, channel: str, payload: dict[str, Any]) -> None: ...

    def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]: ...

    async def close(self) -> None: ...


class MemoryBus:
    """Delivers to subscribers of this process; a slow subscriber drops its oldest events."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        for queue in list(self._queues.get(channel, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(payload)

    async def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_SIZE)
        self._queues.setdefault(channel, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues[channel].discard(queue)

    async def close(self) -> None:
        self._queues.clear()


class RedisBus:
    """Fans out through Redis pub/sub so every server process sees every event."""

    def __init__(self, url: str, prefix: str = "anfu:events:") -> None:
        from redis import asyncio as redis

        self._redis = redis.from_url(url)
        self._prefix = prefix

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(payload))

    async def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._prefix + channel)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield json.loads(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
                await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


_bus: EventBus = MemoryBus()


def bus() -> EventBus:
    return _bus


def use_bus(new_bus: EventBus) -> EventBus:
    global _bus
    previous, _bus = _bus, new_bus
    return previous


async def card_transaction(transfer: Transfer, *, owner_id: int) -> None:
    """Tell the card's owner about a committed transaction; a failure never undoes it."""
    try:
        await _bus.publish(CARD_ACTIVITY, {"transfer_id": transfer.id, "owner_id": owner_id})
    except Exception:  # the money moved; a lost notification must not look like a failure
        log.exception("could not publish card activity for transfer %s", transfer.id)


async def risk_alert_raised(alert_id: int, *, merchant_id: int) -> None:
    """Tell subscribed regulators about a new risk alert; a failure never undoes the alert."""
    try:
        await _bus.publish(RISK_ALERTS, {"alert_id": alert_id, "merchant_id": merchant_id})
    except Exception:  # the alert is stored and listed; only the live notice is lost
        log.exception("could not publish risk alert %s", alert_id)
