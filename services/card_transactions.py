"""Card transactions: what a card's holder and seller see of the ledger's transfers.

A transfer (services/ledger.py) is cash moving between accounts. A card transaction
is the card's side of one transfer of a card kind (models.enums.CARD_TRANSACTION_KINDS):
which card, the face value it gained or lost (`Transfer.amount_fen`), the cash behind
that (`cash_amount_fen`) and the card's money after. Both live in one database row, the
transfer; the API's `Transaction` wraps it. Custody adjustments are transfers that are
no card's transaction.

Every card operation (purchase, top-up, redemption) records its transaction exactly once
under the caller's idempotency key and then announces it (card activity, risk rules).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from models import Card
from models.ledger import Transfer
from services import events, idempotency, risk


@dataclass(frozen=True)
class CardOperation:
    """A card after an operation and the transfer behind the operation's transaction."""

    card: Card
    transfer: Transfer


async def replay_if_known(
    user_id: int, key: str, operation: str, arguments: dict
) -> CardOperation | None:
    """The first result when this key was used before: checked before any rule runs."""
    transfer = await idempotency.find_replay(user_id, key, operation, arguments)
    if transfer is None:
        return None
    return CardOperation(card=await Card.get(id=transfer.card_id), transfer=transfer)


async def record_once(
    user_id: int,
    key: str,
    operation: str,
    arguments: dict,
    action: Callable[[], Awaitable[Transfer]],
) -> CardOperation:
    """Run `action` (which records the transfer) once per key; announce a new transaction."""
    transfer, replayed = await idempotency.run_once(
        user_id=user_id, key=key, operation=operation, arguments=arguments, action=action
    )
    card = await Card.get(id=transfer.card_id)
    if not replayed:
        await events.card_transaction(transfer, owner_id=card.owner_id)
        risk.check_after_transfer(transfer)
    return CardOperation(card=card, transfer=transfer)
