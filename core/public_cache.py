"""The public-read cache: what anonymous callers read (categories, announcements, the merchants
page and merchant(id), stores, card products, sold counts, ratings), kept in the process and
invalidated through the shared cache the moment a write commits.

How it stays correct across processes without waiting for a TTL: every cached family of data
has a **version** in the shared cache (core/cache.py: in-process memory, or Redis when
CACHE_URL says so). A reader reads the versions of the families an entry depends on and looks
the entry up under them; a write, after its transaction commits and before it returns, gives
each family it changed a new version (`changed`), so every reader that starts after the write
returned, in any process, looks under a key nobody has filled yet and loads from the database.
A reader that read the old version just before the write may store what it loaded under that
old version: harmless, nobody looks there again. Versions are random tokens, not counters, so a
Redis that restarts empty never brings back a version that old entries were stored under.

The entries themselves are the rows the resolvers and loaders return, kept in this process in
an LRU bounded to PUBLIC_CACHE_ENTRIES entries, each for at most PUBLIC_CACHE_SECONDS (which
only bounds garbage and the one failure below). They are shared between requests: read-only.
Concurrent misses of one entry are merged: one load runs (as its own task, so a caller that
gives up does not cancel the others), the others await its result.

When the shared cache does not answer, reads go to the database and nothing is stored or
served from here; a write whose new version could not be stored drops this process's entries
and stores the version as soon as the cache answers again. (Another process that never noticed
the outage may keep an entry from before it for at most PUBLIC_CACHE_SECONDS.) With CACHE_URL
memory:// the versions live in the process, so `anfu serve --workers N` turns this cache off.

Only anonymous requests read or fill merchant data here: what a merchant or a regulator sees
depends on who asks. Categories (with merchantCount) are the same for every caller and are
cached for all. Nothing per-user is ever cached.

Families and the writes that give them a new version:

| family | holds | new version when |
|---|---|---|
| `categories` | categories, merchantCount | a merchant's status changes: approved or rejected (services/onboarding.py), suspended, reinstated, closed (services/supervision.py) |
| `announcements` | announcement pages | an announcement is published (services/announcements.py) |
| `merchants` | the merchants page (no search), merchant(id) | a merchant applies or its status changes (as above); its credit score or grade changes (services/credit_scores.py); its custody ratio changes (services/escrow.py); a store opens (services/merchants.py: search and district filters read stores) |
| `merchant:<id>` | the merchant's stores and card products | a store opens or closes, a product is created or changes status (services/merchants.py); the merchant applies or is closed (its stores close, its products retire) |
| `product:<id>` | the product's soldCount and its stores | a card of it is bought (services/cards.py) |
| `catalog` | whole answers of compiled plans over merchants (plans/planner.py) | any change to `merchants`, `merchant:<id>` or `product:<id>` |

Top-ups, redemptions, refunds, complaints, risk alerts and financing change none of these
(riskLevel, custody and scores' factors are never read anonymously).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from aiocache.base import BaseCache

from core.cache import CacheUnavailable, shared

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

CATEGORIES = "categories"
ANNOUNCEMENTS = "announcements"
MERCHANTS = "merchants"
# Everything the merchants, their stores and products show together: a page's whole answer.
CATALOG = "catalog"
_VERSION_PREFIX = "public:v:"
_MISSING = object()


def merchant_family(merchant_id: int) -> str:
    return f"merchant:{merchant_id}"


def product_family(product_id: int) -> str:
    return f"product:{product_id}"


def _new_version() -> str:
    return secrets.token_hex(8)


class PublicCache:
    """Entries in a bounded LRU of this process, valid while their families' versions hold."""

    def __init__(self, entries: int, seconds: float) -> None:
        self.capacity = entries
        self.seconds = seconds
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Task[dict[Any, Any]]] = {}
        # Families whose new version the shared cache has not taken yet (it was down).
        self._unsaved: set[str] = set()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    async def get(
        self, name: str, args: Hashable, family: str, load: Callable[[], Awaitable[T]]
    ) -> T:
        """The value `load` returns for (name, args), cached while `family` has no new version."""

        async def load_one(_keys: list[Hashable]) -> list[T]:
            return [await load()]

        [value] = await self.get_many(name, [args], lambda _args: family, load_one)
        return value

    async def get_many(
        self,
        name: str,
        keys: Sequence[K],
        family_of: Callable[[K], str],
        load: Callable[[list[K]], Awaitable[Sequence[V]]],
    ) -> list[V]:
        """The values for `keys` (what `load` returns in key order), the missing ones loaded
        together in one call of `load`."""
        if not self.enabled:
            return list(await load(list(keys)))
        unique = list(dict.fromkeys(keys))
        try:
            versions = await self._versions([family_of(key) for key in unique])
        except CacheUnavailable:
            # Nobody can say what is current: the database can.
            self.clear()
            return list(await load(list(keys)))
        slots = {key: (name, key, version) for key, version in zip(unique, versions, strict=True)}
        found: dict[K, V] = {}
        flights: dict[K, asyncio.Task[dict[Any, Any]]] = {}
        missing: list[K] = []
        now = time.monotonic()
        for key, slot in slots.items():
            value = self._lookup(slot, now)
            if value is not _MISSING:
                found[key] = value
            elif slot in self._flights:
                flights[key] = self._flights[slot]
            else:
                missing.append(key)
        if missing:
            missing_slots = [slots[key] for key in missing]
            flight = asyncio.ensure_future(self._fill(missing, missing_slots, load))
            # A failure nobody awaits any more is still retrieved (no "never retrieved" noise).
            flight.add_done_callback(lambda done: done.cancelled() or done.exception())
            for key, slot in zip(missing, missing_slots, strict=True):
                self._flights[slot] = flights[key] = flight
        for key, flight in flights.items():
            found[key] = (await asyncio.shield(flight))[key]
        return [found[key] for key in keys]

    async def _fill(
        self,
        keys: list[K],
        slots: Sequence[Hashable],
        load: Callable[[list[K]], Awaitable[Sequence[V]]],
    ) -> dict[K, V]:
        task = asyncio.current_task()
        try:
            values = list(await load(keys))
            expires = time.monotonic() + self.seconds
            for slot, value in zip(slots, values, strict=True):
                self._store(slot, expires, value)
            return dict(zip(keys, values, strict=True))
        finally:
            for slot in slots:
                if self._flights.get(slot) is task:
                    del self._flights[slot]

    def _lookup(self, slot: Hashable, now: float) -> Any:
        entry = self._entries.get(slot)
        if entry is None:
            return _MISSING
        expires, value = entry
        if expires <= now:
            del self._entries[slot]
            return _MISSING
        self._entries.move_to_end(slot)
        return value

    def _store(self, slot: Hashable, expires: float, value: Any) -> None:
        self._entries[slot] = (expires, value)
        self._entries.move_to_end(slot)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    async def _versions(self, families: list[str]) -> list[str]:
        """The current version of each family, one round trip when all are known."""
        if self._unsaved:
            await self._save_versions(set(self._unsaved))
        keys = [_VERSION_PREFIX + family for family in families]
        distinct = list(dict.fromkeys(keys))
        known = dict(zip(distinct, await shared(lambda c: c.multi_get(distinct)), strict=True))
        for key, version in known.items():
            if version is None:
                known[key] = await self._start_version(key)
        return [known[key] for key in keys]

    async def _start_version(self, key: str) -> str:
        """A family the shared cache does not know (new, or the cache lost it): a new version,
        unless another reader gave it one first."""
        version = _new_version()

        async def add_or_read(store: BaseCache) -> Any:
            try:
                await store.add(key, version)
            except ValueError:
                # `add` refuses a key that exists: that reader's version stands.
                return await store.get(key)
            return version

        found = await shared(add_or_read)
        if found is None:
            raise CacheUnavailable("a version vanished while it was read")
        return str(found)

    async def _save_versions(self, families: set[str]) -> None:
        pairs = [(_VERSION_PREFIX + family, _new_version()) for family in sorted(families)]
        await shared(lambda c: c.multi_set(pairs))
        self._unsaved -= families

    async def changed(self, *families: str) -> None:
        """Give each family a new version: call after the write's transaction commits."""
        if not families:
            return
        if any(
            family == MERCHANTS or family.startswith(("merchant:", "product:"))
            for family in families
        ):
            families = (*families, CATALOG)
        try:
            await self._save_versions(set(families))
        except CacheUnavailable:
            # This process's entries may now be stale and nobody else can be told yet.
            self._unsaved.update(families)
            self.clear()
            log.warning("public cache: new versions of %s wait for the shared cache", families)


_public_cache: PublicCache | None = None


def public_cache() -> PublicCache:
    global _public_cache
    if _public_cache is None:
        from settings import get_settings

        settings = get_settings()
        _public_cache = PublicCache(settings.public_cache_entries, settings.public_cache_seconds)
    return _public_cache


def use_public_cache(new_cache: PublicCache | None) -> None:
    """Install a cache (tests); None: build it again from the settings on next use."""
    global _public_cache
    _public_cache = new_cache


async def changed(*families: str) -> None:
    """After a commit: the families this write changed get new versions in every process."""
    await public_cache().changed(*families)


def is_public(principal: Any) -> bool:
    """Anonymous callers read merchant data through this cache; nobody else does."""
    return principal.user_id is None and principal.role is None
