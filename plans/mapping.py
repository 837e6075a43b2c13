"""The GraphQL types a plan can answer, mapped to their tables and columns, with the same
serializers the API uses (Money from fen, DateTime in UTC, global IDs, enum names).

Only fields whose value depends on the row alone, whatever the caller's role, are mapped
here; connections and role-dependent fields are compiled by plans/compiler.py, which knows
who may see what.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models import Card, CardProduct, Category, Merchant, Store
from schema.ids import encode_id
from services.money import format_money

Convert = Callable[[Any], Any]


def _text(value: Any) -> Any:
    return value


def _money(value: Any) -> str:
    return format_money(int(value))


def _boolean(value: Any) -> bool:
    return bool(value)


def _integer(value: Any) -> int:
    return int(value)


def read_moment(field: Any, value: Any) -> dt.datetime:
    """The column's value as an aware datetime, as Tortoise reads it. SQLite hands back the ISO
    text Tortoise wrote, which the standard library parses several times faster than
    Tortoise's own parser (a quarter of a planned wallet's CPU); anything else goes that way."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    moment: dt.datetime = field.to_python_value(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _moment(field: Any) -> Convert:
    """A DateTime as schema/scalars.py serializes it, read as Tortoise reads the column."""

    def convert(value: Any) -> str:
        return read_moment(field, value).astimezone(dt.UTC).isoformat()

    return convert


def _global_id(type_name: str) -> Convert:
    def convert(value: Any) -> str:
        return encode_id(type_name, value)

    return convert


@dataclass(frozen=True, slots=True)
class Column:
    """A scalar field read from one column of its type's table."""

    column: str
    convert: Convert
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A GraphQL object type backed by one table: its scalar fields by GraphQL name."""

    type_name: str
    table: str
    columns: dict[str, Column]
    key: str = "id"


def _table(
    type_name: str, table: str, model: Any, fields: dict[str, tuple[str, str]], key: str = "id"
) -> Table:
    """`fields`: GraphQL name → (column, kind) with kind one of text, money, bool, int, moment,
    id, or nullable text (`text?`)."""
    columns: dict[str, Column] = {}
    for name, (column, kind) in fields.items():
        convert: Convert
        if kind == "money":
            convert = _money
        elif kind == "bool":
            convert = _boolean
        elif kind == "int":
            convert = _integer
        elif kind == "moment":
            convert = _moment(model._meta.fields_map[column])
        elif kind == "id":
            convert = _global_id(type_name)
        else:
            convert = _text
        columns[name] = Column(column, convert, nullable=kind.endswith("?"))
    return Table(type_name, table, columns, key)


MERCHANT = _table(
    "Merchant",
    "merchants",
    Merchant,
    {"id": ("id", "id"), "name": ("name", "text"), "status": ("status", "text")},
)
CATEGORY = _table(
    "Category",
    "categories",
    Category,
    {"code": ("code", "text"), "name": ("name", "text")},
    key="code",
)
STORE = _table(
    "Store",
    "stores",
    Store,
    {
        "id": ("id", "id"),
        "name": ("name", "text"),
        "address": ("address", "text"),
        "district": ("district", "text"),
        "phone": ("phone", "text?"),
        "status": ("status", "text"),
    },
)
CARD_PRODUCT = _table(
    "CardProduct",
    "card_products",
    CardProduct,
    {
        "id": ("id", "id"),
        "name": ("name", "text"),
        "description": ("description", "text"),
        "price": ("price_fen", "money"),
        "faceValue": ("face_value_fen", "money"),
        "validityDays": ("validity_days", "int"),
        "allStores": ("all_stores", "bool"),
        "status": ("status", "text"),
    },
)
# Card.status is not a column: the EXPIRED rule of schema/cards.py (plans/runner.py).
CARD = _table(
    "Card",
    "cards",
    Card,
    {
        "id": ("id", "id"),
        "cardNumber": ("card_number", "text"),
        "balance": ("balance_fen", "money"),
        "cashValue": ("cash_value_fen", "money"),
        "issuedAt": ("issued_at", "moment"),
        "expiresAt": ("expires_at", "moment"),
        "coolingOffEndsAt": ("cooling_off_ends_at", "moment"),
    },
)
CARD_EXPIRES_AT = Card._meta.fields_map["expires_at"]
