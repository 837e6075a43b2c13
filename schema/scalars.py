"""The Money, DateTime and Date scalars."""

from __future__ import annotations

import datetime as dt
from typing import NewType

import strawberry
from graphql import StringValueNode, ValueNode

from core.errors import BadInput
from services.money import format_money, parse_money

# Dates and times the server accepts: Python's calendar ends at years 1 and 9999, and moving
# a value to UTC or the platform's zone, or a day or a period away, must not fall off it.
EARLIEST_DATE = dt.date(2, 1, 1)
LATEST_DATE = dt.date(9998, 12, 31)
_RANGE = f"from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"

Money = NewType("Money", int)
"""Fen inside the server; a yuan string with two decimals ("700.00") on the wire."""


def _money_literal(node: ValueNode, _variables: object = None) -> int:
    if not isinstance(node, StringValueNode):
        raise BadInput('Money is written as a string with two decimals, e.g. "700.00"')
    return parse_money(node.value)


def _serialize_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def _parse_datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise BadInput("A DateTime is an ISO-8601 string with a UTC offset")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{value!r} is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        raise BadInput(f"{value!r} has no UTC offset, e.g. 2026-07-01T08:00:00+08:00")
    try:
        in_utc = parsed.astimezone(dt.UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST_DATE <= in_utc.date() <= LATEST_DATE:
        raise BadInput(f"A DateTime is {_RANGE} (UTC)")
    return parsed


def _datetime_literal(node: ValueNode, _variables: object = None) -> dt.datetime:
    if not isinstance(node, StringValueNode):
        raise BadInput("A DateTime is an ISO-8601 string with a UTC offset")
    return _parse_datetime(node.value)


def _parse_date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise BadInput("A Date is an ISO-8601 calendar date, e.g. 2026-07-01")
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{value!r} is not a calendar date like 2026-07-01") from None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise BadInput(f"A Date is {_RANGE}")
    return parsed


def _date_literal(node: ValueNode, _variables: object = None) -> dt.date:
    if not isinstance(node, StringValueNode):
        raise BadInput("A Date is an ISO-8601 calendar date, e.g. 2026-07-01")
    return _parse_date(node.value)


SCALARS = {
    Money: strawberry.scalar(
        name="Money",
        description='Money in Chinese yuan as a decimal string with exactly two fraction digits, e.g. "700.00".',
        serialize=format_money,
        parse_value=parse_money,
        parse_literal=_money_literal,
    ),
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description=f"ISO-8601 date-time with a UTC offset, {_RANGE} in UTC.",
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
        parse_literal=_datetime_literal,
    ),
    dt.date: strawberry.scalar(
        name="Date",
        description=f'ISO-8601 calendar date, e.g. "2026-07-01", {_RANGE}.',
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_date,
        parse_literal=_date_literal,
    ),
}
