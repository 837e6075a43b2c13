"""Relay global IDs: base64 of "Type:primary key", opaque to clients."""

from __future__ import annotations

import base64
import binascii

from core.errors import BadInput, NotFound


def encode_id(type_name: str, pk: int | str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_any(global_id: str) -> tuple[str, str]:
    """(type name, primary key) of a global ID, or BadInput."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput(f"{global_id!r} is not an ID of this API") from None
    if not type_name or not pk:
        raise BadInput(f"{global_id!r} is not an ID of this API")
    return type_name, pk


# Primary keys are 32-bit: a larger key names no row (and would overflow PostgreSQL's integer).
MAX_KEY = 2**31 - 1


def is_key(pk: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²", which int() refuses."""
    return pk.isascii() and pk.isdigit()


def decode_id(global_id: str, expected_type: str) -> int:
    """The integer key of a global ID of `expected_type`: BadInput when malformed,
    NotFound when no row can have it."""
    type_name, pk = decode_any(global_id)
    if type_name != expected_type or not is_key(pk):
        raise BadInput(f"{global_id!r} is not a {expected_type} ID")
    key = int(pk)
    if key > MAX_KEY:
        raise NotFound(f"No such {expected_type}")
    return key
