"""Hits and misses of the shared cache, counted where it is read: every `get` and `multi_get`
of a store made by core/cache.py, whichever module reads it, for /metrics.

The `kind` label is the key's first segment (`apq` of `apq:<hash>`, `revoked` of
`revoked:session:<id>`), so hit rates are read per use: a revocation lookup misses when
nothing was revoked, which is the good case, while an APQ miss costs the client a round trip.
"""

from __future__ import annotations

import re
from typing import Any

from aiocache.plugins import BasePlugin
from prometheus_client import Counter

READS = Counter(
    "anfu_cache_reads_total",
    "Reads of the shared cache by the key's first segment and result (hit or miss)",
    ["kind", "result"],
)
# Key prefixes are constants in the code; anything else is one label, never a label per key.
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,23}")


def kind_of(key: object) -> str:
    first = str(key).partition(":")[0]
    return first if _KIND.fullmatch(first) else "other"


class CountReads(BasePlugin):
    """An aiocache plugin: one hit or miss per key read (a stored None reads as a miss)."""

    async def post_get(
        self, client: Any, key: object, *args: Any, ret: Any = None, **kw: Any
    ) -> None:
        READS.labels(kind_of(key), "miss" if ret is None else "hit").inc()

    async def post_multi_get(
        self, client: Any, keys: list[object], *args: Any, ret: Any = None, **kw: Any
    ) -> None:
        for key, value in zip(keys, ret or [None] * len(keys), strict=False):
            READS.labels(kind_of(key), "miss" if value is None else "hit").inc()
