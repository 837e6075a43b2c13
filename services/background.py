"""Work that follows an event without slowing the request that caused it.

`defer(key, work)` starts `work()` on the running event loop after the caller
returns; a second `defer` with the same key while the first has not started yet
is merged into it (ten purchases in a burst recompute a merchant's score once).
Failures are logged, never raised into anyone's request. What is lost when a
process dies is caught up by the periodic sweep. Tests and CLI commands
`await drain()` to see the work done.

The work runs on the database's own connections, never inside a transaction
the caller happened to be in when it deferred (a task inherits its creator's
context, where Tortoise keeps the current transaction): it would otherwise
write into that transaction concurrently with its owner. On SQLite the work
therefore waits until such a transaction ends, so never `drain()` inside one.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Hashable

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import ConfigurationError

log = logging.getLogger("anfu.background")
# The name of every task this module starts begins with it (tests tell such work apart).
TASK_PREFIX = "anfu-background:"

_waiting: dict[Hashable, asyncio.Task[None]] = {}
_running: set[asyncio.Task[None]] = set()
_queued: dict[Hashable, Callable[[], Awaitable[object]]] | None = None


def defer(key: Hashable, work: Callable[[], Awaitable[object]]) -> None:
    """Run `work()` soon, once per key among the calls made before it starts."""
    if _queued is not None:
        _queued.setdefault(key, work)
        return
    if key in _waiting:
        return

    async def run() -> None:
        await asyncio.sleep(0)  # let the caller's request finish first
        _waiting.pop(key, None)
        try:
            await work()
        except Exception:
            log.exception("background work %r failed", key)

    context = contextvars.copy_context()
    context.run(_leave_transactions)
    task = asyncio.get_running_loop().create_task(
        run(), name=f"{TASK_PREFIX}{key!r}", context=context
    )
    _waiting[key] = task
    _running.add(task)
    task.add_done_callback(_running.discard)


def _leave_transactions() -> None:
    """In the work's context, use each database's connection rather than a transaction on it."""
    try:
        aliases = list(connections.db_config)
    except ConfigurationError:
        return  # no database: the work needs none
    for alias in aliases:
        current = connections.get(alias)
        client = current
        while isinstance(client, TransactionalDBClient):
            client = client._parent
        if client is not current:
            connections.set(alias, client)


async def drain() -> None:
    """Wait until no deferred work is left, including work that deferred more."""
    while _running:
        await asyncio.gather(*list(_running), return_exceptions=True)


def queue_instead(enabled: bool = True) -> None:
    """From now on keep deferred work until `run_queued()` (or, disabled, start tasks again)."""
    global _queued
    _queued = {} if enabled else None


async def run_queued(only: Callable[[Hashable], bool] | None = None) -> None:
    """Run the kept work (whose key `only` accepts, when given) in order, here and now;
    failures raise: the caller is in charge."""
    while _queued:
        key = next((key for key in _queued if only is None or only(key)), None)
        if key is None:
            return
        await _queued.pop(key)()
