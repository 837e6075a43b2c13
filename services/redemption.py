"""Redemption: the consumer shows a one-time code, the merchant's staff take value off the card.

A code is bound to one card, works once and for a few minutes, and the card keeps at most
one live code, so a merchant cannot drain custody with redemptions nobody asked for.
Redeeming releases the cash behind the value taken from custody to the merchant's
settlement account (DESIGN.md, Money).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock
from core.errors import DomainError, ErrorCode, Forbidden, InvalidState, NotFound
from core.principal import Principal
from models import Card, CardProduct, CardProductStore, Merchant, RedemptionCode
from models.enums import MerchantStatus, StoreStatus, TransferKind
from models.ledger import Transfer
from services import idempotency, ledger, limits
from services.card_transactions import CardOperation, record_once, replay_if_known
from services.cards import MerchantNotActive, check_card_usable, lock_card, save_card_money
from services.custody import cash_value_after_redemption, custody_share
from services.ledger import CardSnapshot, credit, debit
from services.money import format_money, require_positive
from settings import get_settings


class InsufficientBalance(DomainError):
    code = ErrorCode.INSUFFICIENT_BALANCE


class RedemptionCodeInvalid(DomainError):
    code = ErrorCode.REDEMPTION_CODE_INVALID


@dataclass(frozen=True)
class IssuedCode:
    code: str
    card: Card
    expires_at: datetime


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def issue_redemption_code(*, principal: Principal, card_id: int) -> IssuedCode:
    """A one-time code for the consumer to show; it works once, for a few minutes."""
    user_id = principal.require_user()
    card = await scoping.writable_cards(principal).get_or_none(id=card_id)
    if card is None:
        raise NotFound("No such card")
    check_card_usable(card)
    if card.balance_fen <= 0:
        raise InsufficientBalance("The card has no balance left")
    await limits.count_redemption_code(user_id)
    code = "".join(str(secrets.randbelow(10)) for _ in range(18))
    now = clock.now()
    expires_at = now + timedelta(seconds=get_settings().redemption_code_ttl_seconds)
    async with in_transaction():
        # On the locked card: a refund request that froze it since is seen, and two codes
        # issued at once still leave one live code.
        locked = await lock_card(card.id)
        check_card_usable(locked)
        # One live code per card: the one shown last is the only one that works.
        await RedemptionCode.filter(
            card_id=card.id, used_at__isnull=True, expires_at__gt=now
        ).update(expires_at=now)
        await RedemptionCode.create(
            code_hash=_hash_code(code), card_id=card.id, created_at=now, expires_at=expires_at
        )
    return IssuedCode(code=code, card=locked, expires_at=expires_at)


async def redeem(
    *, principal: Principal, code: str, store_id: int, amount_fen: int, idempotency_key: str
) -> CardOperation:
    """Take `amount_fen` of face value off the card behind a consumer's code at one of our stores."""
    user_id = principal.require_user()
    idempotency.check_key(idempotency_key)
    arguments = {"code": _hash_code(code), "store": store_id, "amount": amount_fen}
    existing = await replay_if_known(user_id, idempotency_key, "redeem", arguments)
    if existing:
        return existing
    require_positive(amount_fen)
    if await Merchant.exists(id=principal.merchant_id, status=MerchantStatus.CLOSED):
        raise MerchantNotActive("The merchant is closed: its cards were refunded")
    store = await scoping.redemption_stores(principal).get_or_none(id=store_id)
    if store is None:
        raise NotFound("No such store")
    if not scoping.redeems_at(principal, store.id):
        raise Forbidden("You redeem only at the store you are bound to")
    if store.status is not StoreStatus.OPEN:
        raise InvalidState(f"{store.name} is closed")
    code_row = await _valid_code(code, store.merchant_id)
    card = await Card.get(id=code_row.card_id).prefetch_related("product")
    if not await _store_allowed(card.product, store.id):
        raise InvalidState(f"This card cannot be used at {store.name}")

    async def take() -> Transfer:
        claimed = await RedemptionCode.filter(
            id=code_row.id, used_at__isnull=True, expires_at__gt=clock.now()
        ).update(used_at=clock.now())
        if claimed != 1:
            raise RedemptionCodeInvalid("The redemption code is used, expired or unknown")
        locked = await lock_card(card.id)
        check_card_usable(locked)
        if amount_fen > locked.balance_fen:
            raise InsufficientBalance(
                f"The card holds {format_money(locked.balance_fen)}, less than "
                f"{format_money(amount_fen)}"
            )
        balance = locked.balance_fen - amount_fen
        cash = cash_value_after_redemption(locked.balance_fen, locked.cash_value_fen, amount_fen)
        escrow = custody_share(locked.custody_ratio_bp, cash)
        released = locked.escrow_held_fen - escrow
        cash_released = locked.cash_value_fen - cash
        now = clock.now()
        await save_card_money(
            locked,
            balance=balance,
            cash=cash,
            escrow=escrow,
            first_redeemed_at=locked.first_redeemed_at or now,
        )
        return await ledger.record_transfer(
            kind=TransferKind.REDEMPTION,
            merchant_id=locked.merchant_id,
            card_id=locked.id,
            store_id=store.id,
            initiated_by_id=user_id,
            amount_fen=amount_fen,
            cash_amount_fen=cash_released,
            after=CardSnapshot(balance, cash, escrow),
            legs=[
                debit(ledger.escrow_account(locked.merchant_id), released),
                credit(ledger.settlement_account(locked.merchant_id), released),
            ],
            created_at=now,
            allow_no_postings=True,
        )

    return await record_once(user_id, idempotency_key, "redeem", arguments, take)


async def _valid_code(code: str, merchant_id: int) -> RedemptionCode:
    row = await RedemptionCode.get_or_none(code_hash=_hash_code(code)).prefetch_related("card")
    if (
        row is None
        or row.used_at is not None
        or row.expires_at <= clock.now()
        or row.card.merchant_id != merchant_id
    ):
        raise RedemptionCodeInvalid("The redemption code is used, expired or unknown")
    return row


async def _store_allowed(product: CardProduct, store_id: int) -> bool:
    if product.all_stores:
        return True
    return await CardProductStore.filter(product_id=product.id, store_id=store_id).exists()
