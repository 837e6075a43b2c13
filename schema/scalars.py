"""The Money, DateTime and Date scalars."""

from __future__ import annotations

import datetime as dt
from typing import NewType

import strawberry
from graphql import StringValueNode, ValueNode

from services.errors import BadInput
from services.money import format_money, parse_money

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
    return parsed


def _datetime_literal(node: ValueNode, _variables: object = None) -> dt.datetime:
    if not isinstance(node, StringValueNode):
        raise BadInput("A DateTime is an ISO-8601 string with a UTC offset")
    return _parse_datetime(node.value)


def _parse_date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise BadInput("A Date is an ISO-8601 calendar date, e.g. 2026-07-01")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{value!r} is not a calendar date like 2026-07-01") from None


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
        description="ISO-8601 date-time with a UTC offset.",
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
        parse_literal=_datetime_literal,
    ),
    dt.date: strawberry.scalar(
        name="Date",
        description='ISO-8601 calendar date, e.g. "2026-07-01".',
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_date,
        parse_literal=_date_literal,
    ),
}
