"""Work that follows an event without slowing the request that caused it.

`defer(key, work)` starts `work()` on the running event loop after the caller
returns; a second `defer` with the same key while the first has not started yet
is merged into it (ten purchases in a burst recompute a merchant's score once).
Failures are logged, never raised into anyone's request. What is lost when a
process dies is caught up by the periodic sweep. Tests and CLI commands
`await drain()` to see the work done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("anfu.background")

_waiting: dict[Hashable, asyncio.Task[None]] = {}
_running: set[asyncio.Task[None]] = set()


def defer(key: Hashable, work: Callable[[], Awaitable[object]]) -> None:
    """Run `work()` soon, once per key among the calls made before it starts."""
    if key in _waiting:
        return

    async def run() -> None:
        await asyncio.sleep(0)  # let the caller's request finish first
        _waiting.pop(key, None)
        try:
            await work()
        except Exception:
            log.exception("background work %r failed", key)

    task = asyncio.get_running_loop().create_task(run())
    _waiting[key] = task
    _running.add(task)
    task.add_done_callback(_running.discard)


async def drain() -> None:
    """Wait until no deferred work is left, including work that deferred more."""
    while _running:
        await asyncio.gather(*list(_running), return_exceptions=True)
