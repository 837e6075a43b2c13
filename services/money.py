"""Money is integer fen everywhere; the API shows it as a decimal string in yuan ("700.00")."""

from __future__ import annotations

import re

from services.errors import BadInput

# "5.00" is the only form of five yuan: no sign, no exponent, no leading zeros, two decimals.
_MONEY_PATTERN = re.compile(r"(0|[1-9][0-9]{0,13})\.([0-9]{2})")
# Fen in a BIGINT column; far above any real amount, far below 2**63.
MAX_FEN = 10**15


def parse_money(text: object) -> int:
    """Parse an API money string into fen, or raise BadInput."""
    if not isinstance(text, str):
        raise BadInput('Money must be a string with exactly two decimals, e.g. "700.00"')
    match = _MONEY_PATTERN.fullmatch(text)
    if match is None:
        raise BadInput(
            f'{text!r} is not a valid amount: write yuan with exactly two decimals, e.g. "700.00"'
        )
    fen = int(match.group(1)) * 100 + int(match.group(2))
    if fen > MAX_FEN:
        raise BadInput(f"{text!r} is too large")
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
