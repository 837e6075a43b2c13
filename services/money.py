"""Money is integer fen everywhere; the API shows it as a decimal string in yuan ("700.00")."""

from __future__ import annotations

import re

from core.errors import BadInput

# "5.00" is the only form of five yuan: no sign, no exponent, no leading zeros, two decimals.
# The pattern also matches a sign and any length so that those two get a message of their own.
_MONEY_PATTERN = re.compile(r"([+-]?)(0|[1-9][0-9]*)\.([0-9]{2})")
# Fen in a BIGINT column; far above any real amount, far below 2**63.
MAX_FEN = 10**15
_MAX_YUAN_DIGITS = len(str(MAX_FEN // 100))


def parse_money(text: object) -> int:
    """Parse an API money string into fen, or raise BadInput saying what is wrong with it."""
    if not isinstance(text, str):
        raise BadInput('Money must be a string with exactly two decimals, e.g. "700.00"')
    match = _MONEY_PATTERN.fullmatch(text)
    if match is None:
        raise BadInput(
            f'{text!r} is not a valid amount: write yuan with exactly two decimals, e.g. "700.00"'
        )
    sign, yuan, cents = match.groups()
    if sign == "-" and (yuan != "0" or cents != "00"):
        raise BadInput(f"{text!r} is not a valid amount: an amount must not be negative")
    if sign:
        raise BadInput(
            f'{text!r} is not a valid amount: write it without a sign, e.g. "{yuan}.{cents}"'
        )
    # Count digits before converting: int() of a very long string is slow, then refused.
    fen = int(yuan) * 100 + int(cents) if len(yuan) <= _MAX_YUAN_DIGITS else MAX_FEN + 1
    if fen > MAX_FEN:
        raise BadInput(f"{text!r} is too large: at most {format_money(MAX_FEN)}")
    return fen


def format_money(fen: int) -> str:
    """Fen as a yuan string with two decimals; negative amounts keep their sign."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        # A float or Decimal here means money left integer fen somewhere: fail, never round.
        raise TypeError(f"Money is integer fen, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def require_positive(fen: int, what: str = "amount") -> int:
    if fen <= 0:
        raise BadInput(f"The {what} must be above zero")
    return fen
