"""Rules for free text that several domains take."""

from __future__ import annotations

from core.errors import BadInput

# A reason (for a refund, a rejection, a suspension, a custody change) as people write one.
MAX_REASON_LENGTH = 1000


def reason(text: str | None, *, required: bool = True) -> str | None:
    """The reason trimmed; BadInput when it is missing (and required) or too long."""
    trimmed = (text or "").strip()
    if not trimmed:
        if required:
            raise BadInput(f"Give a reason of 1 to {MAX_REASON_LENGTH} characters")
        return None
    if len(trimmed) > MAX_REASON_LENGTH:
        raise BadInput(f"Give a reason of 1 to {MAX_REASON_LENGTH} characters")
    return trimmed


def required_reason(text: str) -> str:
    """A reason that must be given."""
    given = reason(text)
    assert given is not None
    return given


def bounded(value: str, what: str, max_length: int) -> str:
    """A name or address trimmed; BadInput naming `what` when it is empty or too long."""
    value = value.strip()
    if not value or len(value) > max_length:
        raise BadInput(f"The {what} has 1 to {max_length} characters")
    return value
