"""The argument values a plan takes: those the API answers without an error.

Anything else (null where a non-null variable is declared, `first` out of 0..100, a cursor this
API did not give out, a value of another type, a filter) is left to the general executor, which
answers with the exact error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import BadInput
from models.enums import CardProductStatus, CardStatus
from services.pagination import MAX_PAGE_SIZE, page_request

MISSING: Any = object()
# Offsets beyond this are answered by the general executor (no row has them anyway).
MAX_OFFSET = 10**9

# The variable type each check expects (validation lets no other type reach an argument).
VARIABLE_TYPES = {
    "first": "Int",
    "after": "String",
    "filter": "MerchantFilter",
    "product_status": "CardProductStatus",
    "card_status": "CardStatus",
}
_PRODUCT_STATUSES = frozenset(status.value for status in CardProductStatus)
_CARD_STATUSES = frozenset(status.value for status in CardStatus)


@dataclass(slots=True)
class Variable:
    """A variable of the operation and the checks of the arguments it is passed to."""

    name: str
    type_name: str
    non_null: bool
    default: Any
    checks: list[str] = field(default_factory=list)


def acceptable(check: str, value: Any) -> bool:
    """True when the API takes `value` for an argument of this kind without an error."""
    if value is None:
        return True
    if check == "first":
        return type(value) is int and 0 <= value <= MAX_PAGE_SIZE
    if check == "after":
        return type(value) is str and offset_of(value) is not None
    if check == "product_status":
        return type(value) is str and value in _PRODUCT_STATUSES
    if check == "card_status":
        return type(value) is str and value in _CARD_STATUSES
    return False  # a filter: only its absence is planned


def offset_of(cursor: str | None) -> int | None:
    """The offset a page after `cursor` starts at (0 without one); None when refused."""
    try:
        offset = page_request(None, cursor).offset
    except BadInput:
        return None
    return offset if offset <= MAX_OFFSET else None


def types_match(variables: Mapping[str, Variable]) -> bool:
    return all(
        VARIABLE_TYPES.get(check) == variable.type_name
        for variable in variables.values()
        for check in variable.checks
    )


def resolve(variables: Mapping[str, Variable], given: object) -> dict[str, Any] | None:
    """The operation's variable values as the API would coerce them, or None when any is one
    the general executor must answer."""
    if given is None:
        given = {}
    if not isinstance(given, dict) or any(name not in variables for name in given):
        return None
    resolved: dict[str, Any] = {}
    for name, variable in variables.items():
        if name in given:
            value = given[name]
        else:
            value = None if variable.default is MISSING else variable.default
        if value is None and variable.non_null:
            return None
        if not all(acceptable(check, value) for check in variable.checks):
            return None
        resolved[name] = value
    return resolved
