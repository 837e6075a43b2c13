"""The arithmetic of prepaid cash, in fen. Pure functions; rounding always favours the consumer."""

from __future__ import annotations

FULL_CUSTODY_BP = 10_000
MIN_CUSTODY_BP = 4_000


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def custody_share(ratio_bp: int, cash_value_fen: int) -> int:
    """Cash a card keeps in custody: ceil(ratio * cashValue)."""
    return ceil_div(ratio_bp * cash_value_fen, FULL_CUSTODY_BP)


def cash_value_after_redemption(balance_fen: int, cash_value_fen: int, redeemed_fen: int) -> int:
    """ceil(cashValue * (balance - r) / balance): the cash left behind the remaining balance."""
    if redeemed_fen >= balance_fen:
        return 0
    return ceil_div(cash_value_fen * (balance_fen - redeemed_fen), balance_fen)


def face_value_for_payment(pay_fen: int, price_fen: int, face_value_fen: int) -> int:
    """Balance a top-up adds at the product's face/price ratio, rounded down to the fen."""
    return pay_fen * face_value_fen // price_fen


def ratio_to_bp(ratio: float) -> int:
    """A custody ratio such as 0.8 in basis points (8000)."""
    return round(ratio * FULL_CUSTODY_BP)


def bp_to_ratio(ratio_bp: int) -> float:
    return ratio_bp / FULL_CUSTODY_BP
