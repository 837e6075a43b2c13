"""Stored credit scores: recompute a merchant's score from its features and apply its grade.

(Stub: the credit model lands with issue 8.)
"""

from __future__ import annotations

from services import background


async def recompute(merchant_id: int) -> None:
    """Score the merchant now, store the score with its factors and apply the grade."""


def schedule_recompute(merchant_id: int) -> None:
    """Recompute after the current request, merged with other requests for the same merchant."""
    background.defer(("credit", merchant_id), lambda: recompute(merchant_id))
