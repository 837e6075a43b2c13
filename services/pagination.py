"""Pages for connections: `first` (default 20, at most 100) after an opaque cursor.

Two kinds of list, two kinds of cursor:

- A **feed** (newest first: transactions, complaints, alerts, the audit trail, announcements)
  pages by keyset: its cursor holds the row's sort key and id, and the next page is the rows
  strictly after them in the order. A row inserted while a client pages lands before the page
  it has read (it is newer), so no row is skipped or repeated.
- Any other list (merchants by id, the review queue, a merchant's stores loaded whole by a
  DataLoader) pages by offset.

`page_of` is the one skeleton every list resolver uses: the caller's scope, the filters that
were given, the order, the page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from core.errors import BadInput

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_OFFSET = "offset:"
_KEYSET = "keyset:"
_NOT_OURS = "The cursor is not one this API gave out for this list"

T = TypeVar("T")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Ordering:
    """A list's order. With `keys` it is a feed: descending on the keys, then on id, paged
    by keyset (the keys must not be null)."""

    terms: tuple[str, ...]
    keys: tuple[str, ...] = ()


def newest_first(*keys: str) -> Ordering:
    """A feed: descending on `keys` (e.g. "created_at"), then id."""
    return Ordering(tuple(f"-{key}" for key in (*keys, "id")), keys=(*keys, "id"))


def ordered_by(*terms: str) -> Ordering:
    """A list paged by offset in this order (end with a unique term)."""
    return Ordering(terms)


@dataclass(frozen=True)
class PageRequest:
    offset: int
    limit: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows with what a connection needs to describe it."""

    items: Sequence[T]
    total: int
    cursors: Sequence[str]
    has_next: bool
    has_previous: bool


async def page_of(
    scope: QuerySet[M],
    ordering: Ordering,
    first: int | None,
    after: str | None,
    filters: Mapping[str, object | None] | None = None,
) -> Page[M]:
    """The page of `scope` (what the caller may read) narrowed by the filters given (None:
    not given), in `ordering`."""
    given = {lookup: value for lookup, value in (filters or {}).items() if value is not None}
    query = scope.filter(**given) if given else scope
    return await paginate(query, ordering, first, after)


async def paginate(
    query: QuerySet[M], ordering: Ordering, first: int | None, after: str | None
) -> Page[M]:
    """One COUNT and one SELECT of the page."""
    limit = _page_size(first)
    if ordering.keys:
        return await _keyset_page(query, ordering, limit, after)
    offset = _decode_offset(after) + 1 if after is not None else 0
    total = await query.count()
    rows: list[M] = []
    if limit and offset < total:
        rows = await query.order_by(*ordering.terms).offset(offset).limit(limit)
    return Page(
        items=rows,
        total=total,
        cursors=[encode_cursor(offset + index) for index in range(len(rows))],
        has_next=offset + len(rows) < total,
        has_previous=offset > 0,
    )


async def _keyset_page(
    query: QuerySet[M], ordering: Ordering, limit: int, after: str | None
) -> Page[M]:
    total = await query.count()
    narrowed = query
    if after is not None:
        narrowed = query.filter(_after(ordering.keys, _decode_keyset(after, len(ordering.keys))))
    rows: list[M] = []
    if limit:
        rows = await narrowed.order_by(*ordering.terms).limit(limit + 1)
    items = rows[:limit]  # one more was read to learn whether a next page exists
    return Page(
        items=items,
        total=total,
        cursors=[_encode_keyset([getattr(row, key) for key in ordering.keys]) for row in items],
        has_next=len(rows) > limit,
        has_previous=after is not None,
    )


def _after(keys: tuple[str, ...], values: list[Any]) -> Q:
    """Rows after the cursor's in descending order: (k1 < v1) or (k1 = v1 and k2 < v2) ..."""
    alternatives = []
    for depth, key in enumerate(keys):
        equal = {keys[index]: values[index] for index in range(depth)}
        alternatives.append(Q(**equal, **{f"{key}__lt": values[depth]}))
    return Q(*alternatives, join_type="OR")


def _encode_keyset(values: list[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    text = _KEYSET + json.dumps(plain, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode_keyset(cursor: str, arity: int) -> list[Any]:
    text = _cursor_text(cursor)
    if not text.startswith(_KEYSET):
        raise BadInput(_NOT_OURS)
    try:
        values = json.loads(text[len(_KEYSET) :])
    except ValueError:
        raise BadInput(_NOT_OURS) from None
    if not isinstance(values, list) or len(values) != arity:
        raise BadInput(_NOT_OURS)
    decoded: list[Any] = []
    for value in values:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise BadInput(_NOT_OURS) from None
        elif not isinstance(value, bool | int):
            raise BadInput(_NOT_OURS)
        decoded.append(value)
    return decoded


def _page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise BadInput(f"`first` is between 0 and {MAX_PAGE_SIZE}")
    return first


def _cursor_text(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput(_NOT_OURS) from None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_OFFSET}{offset}".encode()).decode()


def _decode_offset(cursor: str) -> int:
    text = _cursor_text(cursor)
    # ASCII digits only: str.isdigit() also takes "²" (int() fails) and "٣" (int() reads 3).
    digits = text[len(_OFFSET) :]
    if not text.startswith(_OFFSET) or not (digits.isascii() and digits.isdigit()):
        raise BadInput(_NOT_OURS)
    return int(digits)


def page_request(first: int | None, after: str | None) -> PageRequest:
    """An offset page of rows already loaded (nested connections batched by a DataLoader)."""
    limit = _page_size(first)
    return PageRequest(offset=_decode_offset(after) + 1 if after is not None else 0, limit=limit)


def slice_page(rows: Sequence[T], request: PageRequest) -> Page[T]:
    """The requested page of rows already loaded."""
    items = rows[request.offset : request.offset + request.limit]
    return Page(
        items=items,
        total=len(rows),
        cursors=[encode_cursor(request.offset + index) for index in range(len(items))],
        has_next=request.offset + len(items) < len(rows),
        has_previous=request.offset > 0,
    )
