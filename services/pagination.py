"""Offset pages for connections: `first` (default 20, at most 100) after an opaque cursor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from core.errors import BadInput

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_CURSOR_PREFIX = "offset:"

T = TypeVar("T")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class PageRequest:
    offset: int
    limit: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows with what a connection needs to describe it."""

    items: Sequence[T]
    offset: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput("The cursor is not one this API gave out") from None
    # ASCII digits only: str.isdigit() also takes "²" (int() fails) and "٣" (int() reads 3).
    digits = text[len(_CURSOR_PREFIX) :]
    if not text.startswith(_CURSOR_PREFIX) or not (digits.isascii() and digits.isdigit()):
        raise BadInput("The cursor is not one this API gave out")
    return int(digits)


def page_request(first: int | None, after: str | None) -> PageRequest:
    if first is None:
        first = DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise BadInput(f"`first` is between 0 and {MAX_PAGE_SIZE}")
    offset = decode_cursor(after) + 1 if after is not None else 0
    return PageRequest(offset=offset, limit=first)


async def paginate(query: QuerySet[M], request: PageRequest) -> Page[M]:
    """One COUNT and one SELECT of the page (the query must be ordered)."""
    total = await query.count()
    if request.limit == 0 or request.offset >= total:
        return Page(items=[], offset=request.offset, total=total)
    items = await query.offset(request.offset).limit(request.limit)
    return Page(items=items, offset=request.offset, total=total)


def slice_page(rows: Sequence[T], request: PageRequest) -> Page[T]:
    """A page of rows already loaded (nested connections batched by a DataLoader)."""
    return Page(
        items=rows[request.offset : request.offset + request.limit],
        offset=request.offset,
        total=len(rows),
    )
