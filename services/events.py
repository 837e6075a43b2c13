"""Live events (card activity, risk alerts) fanned out to subscribers.

In one process an in-memory bus is enough; with several server processes the
bus goes through Redis pub/sub, chosen by CACHE_URL like the cache. Either way
each subscriber has a bounded queue of its own that the bus fills without ever
waiting: a subscriber that does not keep up loses its own oldest events, and
nobody else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Iterator
from typing import Any, Protocol

from models.ledger import Transfer

log = logging.getLogger(__name__)

CARD_ACTIVITY = "card_activity"
RISK_ALERTS = "risk_alerts"
# How long a new subscriber waits for the Redis listener before listening anyway (it then
# hears events once Redis answers).
READY_TIMEOUT_SECONDS = 5.0


class EventBus(Protocol):
    async def publish(self, channel: str, payload: dict[str, Any]) -> None: ...

    def subscribe(self, channel: str) -> AsyncGenerator[dict[str, Any], None]: ...

    def subscribers(self, channel: str) -> int: ...

    async def close(self) -> None: ...


def _queue_size() -> int:
    from settings import get_settings

    return get_settings().subscriber_queue_size


class Fanout:
    """The subscribers of this process, one bounded queue each, by channel."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self.dropped = 0

    def deliver(self, channel: str, payload: dict[str, Any]) -> None:
        """Hand the event to every subscriber of the channel without waiting for any."""
        for queue in list(self._queues.get(channel, ())):
            if queue.full():
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(payload)

    @contextlib.contextmanager
    def listening(self, channel: str) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_queue_size())
        self._queues.setdefault(channel, set()).add(queue)
        try:
            yield queue
        finally:
            listeners = self._queues.get(channel)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._queues[channel]

    def count(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    def clear(self) -> None:
        self._queues.clear()


class MemoryBus:
    """Delivers to subscribers of this process."""

    def __init__(self) -> None:
        self.fanout = Fanout()

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        self.fanout.deliver(channel, payload)

    async def subscribe(self, channel: str) -> AsyncGenerator[dict[str, Any], None]:
        with self.fanout.listening(channel) as queue:
            while True:
                yield await queue.get()

    def subscribers(self, channel: str) -> int:
        return self.fanout.count(channel)

    async def close(self) -> None:
        self.fanout.clear()


class RedisBus:
    """Fans out through Redis pub/sub so every server process sees every event.

    A process holds one pub/sub connection whatever its number of subscribers: one listener
    task, started with the first subscriber, takes every event of the bus (one pattern
    subscription) and hands it to this process's subscribers (Fanout). When Redis goes away
    the listener reconnects by itself; subscribers keep their place meanwhile.
    """

    def __init__(self, url: str, prefix: str = "anfu:events:", name: str = "anfu-events") -> None:
        from redis import asyncio as redis

        # The name shows in CLIENT LIST: each process's pub/sub connection is one line there.
        self._redis = redis.from_url(url, client_name=name)
        self._prefix = prefix
        self.name = name
        self.fanout = Fanout()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(payload))

    async def subscribe(self, channel: str) -> AsyncGenerator[dict[str, Any], None]:
        await self._start()
        with self.fanout.listening(channel) as queue:
            while True:
                yield await queue.get()

    def subscribers(self, channel: str) -> int:
        return self.fanout.count(channel)

    async def _start(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="anfu-event-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT_SECONDS)

    async def _listen(self) -> None:
        pause = 0.1
        pattern = self._prefix + "*"
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(pattern)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "psubscribe":
                        # Redis confirmed: from here on no event published is missed.
                        self._ready.set()
                        pause = 0.1
                    elif kind == "pmessage":
                        self._deliver(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._ready.clear()
                log.warning("event listener lost Redis (%s); again in %.1f s", error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _deliver(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        try:
            payload = json.loads(data)
        except ValueError:
            log.warning("ignored an event that is not JSON on %s", name)
            return
        self.fanout.deliver(name.removeprefix(self._prefix), payload)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._ready.clear()
        self.fanout.clear()
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
