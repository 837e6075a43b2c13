"""Prepaid cards: bought and topped up; the rules every card operation shares.

Each operation checks its rules first, then, in one database transaction,
locks the card (a row lock on PostgreSQL, the connection lock on SQLite),
changes it with an UPDATE that matches the values it read, and records the
money movement through the ledger. Money mutations run under the caller's
idempotency key (services/card_transactions.py). Redemption lives in
services/redemption.py, refunds in services/refunds.py.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from auth import scoping
from core import clock, public_cache
from core.errors import DomainError, ErrorCode, InvalidState, NotFound
from core.principal import Principal
from models import Card, CardProduct, IdempotencyRecord, Merchant, User
from models.enums import (
    LIVE_CARD_STATUSES,
    CardProductStatus,
    CardStatus,
    CreditGrade,
    MerchantStatus,
    TransferKind,
)
from models.ledger import Transfer
from services import idempotency, ledger, payments
from services.aggregates import total
from services.card_transactions import CardOperation, record_once, replay_if_known
from services.custody import custody_share, face_value_for_payment
from services.ledger import CardSnapshot, credit, debit
from services.money import format_money, require_positive
from settings import get_settings


class LimitExceeded(DomainError):
    code = ErrorCode.LIMIT_EXCEEDED


class MerchantNotActive(DomainError):
    code = ErrorCode.MERCHANT_NOT_ACTIVE


class CardNotActive(DomainError):
    code = ErrorCode.CARD_NOT_ACTIVE


def is_expired(card: Card, now: datetime) -> bool:
    return card.status is CardStatus.EXPIRED or card.expires_at <= now


def check_merchant_sells(merchant: Merchant) -> None:
    if merchant.status is not MerchantStatus.ACTIVE:
        raise MerchantNotActive(
            f"{merchant.name} is {merchant.status.value.lower()} and sells nothing"
        )
    if merchant.credit_grade is CreditGrade.D:
        raise MerchantNotActive(f"{merchant.name} has credit grade D and sells nothing")


async def _live_cash_with_merchant(owner_id: int, merchant_id: int) -> int:
    live = Card.filter(owner_id=owner_id, merchant_id=merchant_id, status__in=LIVE_CARD_STATUSES)
    return await total(live, "cash_value_fen")


async def _check_limits(owner_id: int, merchant_id: int, card_cash_after: int, adding: int) -> None:
    rules = get_settings()
    if card_cash_after > rules.card_cash_cap_fen:
        raise LimitExceeded(
            f"A card holds at most {format_money(rules.card_cash_cap_fen)} of prepaid cash"
        )
    held = await _live_cash_with_merchant(owner_id, merchant_id)
    if held + adding > rules.consumer_merchant_cap_fen:
        raise LimitExceeded(
            f"One consumer holds at most {format_money(rules.consumer_merchant_cap_fen)} of "
            f"prepaid cash with one merchant; you hold {format_money(held)}"
        )


# Row locks are FOR NO KEY UPDATE on PostgreSQL: the operation has already inserted rows that
# reference the locked row (its idempotency record references the user), taking a KEY SHARE
# lock, and a plain FOR UPDATE would deadlock against another request doing the same.


async def _lock_owner(owner_id: int) -> None:
    """Serialise one consumer's purchases so the per-merchant limit holds under concurrency."""
    await User.filter(id=owner_id).select_for_update(no_key=True).first()


async def lock_card(card_id: int) -> Card:
    card = await Card.filter(id=card_id).select_for_update(no_key=True).first()
    if card is None:
        raise NotFound("No such card")
    return card


async def _lock_seller(merchant_id: int, product_id: int) -> Merchant:
    """The merchant as it is now, checked again inside the transaction: a suspension or a custody
    change that committed since the first checks (say, while the payment was authorised) holds."""
    merchant = await Merchant.filter(id=merchant_id).select_for_update(no_key=True).first()
    product = await CardProduct.get(id=product_id)
    if merchant is None:
        raise NotFound("No such merchant")
    check_merchant_sells(merchant)
    if product.status is not CardProductStatus.ACTIVE:
        raise InvalidState(f"{product.name} is {product.status.value.lower()} and not on sale")
    return merchant


async def save_card_money(
    card: Card, *, balance: int, cash: int, escrow: int, **extra: object
) -> None:
    """Write new money onto a card only if it still holds what we read (checked rows affected)."""
    updated = await Card.filter(
        id=card.id,
        balance_fen=card.balance_fen,
        cash_value_fen=card.cash_value_fen,
        escrow_held_fen=card.escrow_held_fen,
        status=card.status,
    ).update(balance_fen=balance, cash_value_fen=cash, escrow_held_fen=escrow, **extra)
    if updated != 1:
        raise InvalidState("The card changed while this operation ran; try again")
    card.balance_fen, card.cash_value_fen, card.escrow_held_fen = balance, cash, escrow
    for name, value in extra.items():
        setattr(card, name, value)


def _new_card_number() -> str:
    return "62" + "".join(str(secrets.randbelow(10)) for _ in range(14))


def _payment_reference(user_id: int, key: str) -> str:
    return hashlib.sha256(f"{user_id}:{key}".encode()).hexdigest()


async def _paid(
    user_id: int, key: str, amount_fen: int, run: Callable[[], Awaitable[CardOperation]]
) -> CardOperation:
    """Authorise a payment, run the operation, and void the payment if nothing was recorded."""
    payment = await payments.provider().authorize(_payment_reference(user_id, key), amount_fen)
    try:
        return await run()
    except BaseException:
        if not await _key_taken(user_id, key):
            await payments.provider().void(payment)
        raise


async def _key_taken(user_id: int, key: str) -> bool:
    return await IdempotencyRecord.filter(user_id=user_id, key=key).exists()


# ---------------------------------------------------------------- purchase and top-up


async def purchase(*, principal: Principal, product_id: int, idempotency_key: str) -> CardOperation:
    """Pay the product's price, keep the custody share in escrow and issue a card."""
    user_id = principal.require_user()
    idempotency.check_key(idempotency_key)
    existing = await replay_if_known(
        user_id, idempotency_key, "purchaseCard", {"product": product_id}
    )
    if existing:
        return existing
    refuse_one_step("purchaseCard")
    product = await check_purchase(user_id, product_id)

    async def issue() -> Transfer:
        return await issue_card(user_id=user_id, product=product, source=ledger.CONSUMER_FUNDS)

    try:
        return await _paid(
            user_id,
            idempotency_key,
            product.price_fen,
            lambda: record_once(
                user_id, idempotency_key, "purchaseCard", {"product": product_id}, issue
            ),
        )
    finally:
        # soldCount moved, unless the purchase failed (then this costs a few cache misses).
        await public_cache.changed(public_cache.product_family(product.id))


async def top_up(
    *, principal: Principal, card_id: int, pay_fen: int, idempotency_key: str
) -> CardOperation:
    """Add value at the product's face/price ratio; the custody share follows the new cash value."""
    user_id = principal.require_user()
    idempotency.check_key(idempotency_key)
    arguments = {"card": card_id, "pay": pay_fen}
    existing = await replay_if_known(user_id, idempotency_key, "topUpCard", arguments)
    if existing:
        return existing
    refuse_one_step("topUpCard")
    card = await check_top_up(principal, card_id, pay_fen)

    async def add() -> Transfer:
        return await add_value(
            user_id=user_id,
            card=card,
            product=card.product,
            pay_fen=pay_fen,
            source=ledger.CONSUMER_FUNDS,
        )

    return await _paid(
        user_id,
        idempotency_key,
        pay_fen,
        lambda: record_once(user_id, idempotency_key, "topUpCard", arguments, add),
    )


def refuse_one_step(mutation: str) -> None:
    """With a two-step channel the card waits for the channel's word that the money came."""
    if payments.channel() is not None:
        raise InvalidState(
            f"Payments here take two steps: {mutation} is not available; call "
            "createPaymentOrder and pay in the mini-program"
        )


async def check_purchase(user_id: int, product_id: int) -> CardProduct:
    """The rules a purchase must pass before anyone pays (checked again when the card is issued)."""
    product = await CardProduct.get_or_none(id=product_id).prefetch_related("merchant")
    if product is None:
        raise NotFound("No such card product")
    check_merchant_sells(product.merchant)
    if product.status is not CardProductStatus.ACTIVE:
        raise InvalidState(f"{product.name} is {product.status.value.lower()} and not on sale")
    await _check_limits(user_id, product.merchant_id, product.price_fen, product.price_fen)
    return product


async def check_top_up(principal: Principal, card_id: int, pay_fen: int) -> Card:
    """The rules a top-up must pass before anyone pays (checked again when value is added)."""
    require_positive(pay_fen, "payment")
    card = (
        await scoping.writable_cards(principal)
        .get_or_none(id=card_id)
        .prefetch_related("product", "merchant")
    )
    if card is None:
        raise NotFound("No such card")
    product: CardProduct = card.product
    check_merchant_sells(card.merchant)
    if product.status is not CardProductStatus.ACTIVE:
        raise InvalidState(f"{product.name} is {product.status.value.lower()} and not on sale")
    check_card_usable(card)
    if face_value_for_payment(pay_fen, product.price_fen, product.face_value_fen) <= 0:
        raise InvalidState("The payment is too small to add any value")
    await _check_limits(
        principal.require_user(), card.merchant_id, card.cash_value_fen + pay_fen, pay_fen
    )
    return card


async def issue_card(*, user_id: int, product: CardProduct, source: str) -> Transfer:
    """Inside a transaction: check again under locks, issue the card and record its PURCHASE,
    the price coming from `source` (the outside world, or a channel's clearing account). A rule
    that fails raises before anything is written."""
    await _lock_owner(user_id)
    seller = await _lock_seller(product.merchant_id, product.id)
    price = product.price_fen
    await _check_limits(user_id, seller.id, price, price)
    now = clock.now()
    escrow = custody_share(seller.custody_ratio_bp, price)
    card = await Card.create(
        card_number=_new_card_number(),
        owner_id=user_id,
        product_id=product.id,
        merchant_id=seller.id,
        balance_fen=product.face_value_fen,
        cash_value_fen=price,
        escrow_held_fen=escrow,
        custody_ratio_bp=seller.custody_ratio_bp,
        issued_at=now,
        expires_at=now + timedelta(days=product.validity_days),
        cooling_off_ends_at=now + timedelta(days=get_settings().cooling_off_days),
    )
    return await ledger.record_transfer(
        kind=TransferKind.PURCHASE,
        merchant_id=seller.id,
        card_id=card.id,
        initiated_by_id=user_id,
        amount_fen=product.face_value_fen,
        cash_amount_fen=price,
        after=CardSnapshot(product.face_value_fen, price, escrow),
        legs=[
            debit(source, price),
            credit(ledger.escrow_account(seller.id), escrow),
            credit(ledger.settlement_account(seller.id), price - escrow),
        ],
        created_at=now,
    )


async def add_value(
    *, user_id: int, card: Card, product: CardProduct, pay_fen: int, source: str
) -> Transfer:
    """Inside a transaction: check again under locks, add `pay_fen` of cash to the card at its
    product's ratio and record the TOP_UP from `source`. A failed rule writes nothing."""
    added_face = face_value_for_payment(pay_fen, product.price_fen, product.face_value_fen)
    if added_face <= 0:
        raise InvalidState("The payment is too small to add any value")
    await _lock_owner(user_id)
    await _lock_seller(card.merchant_id, product.id)
    locked = await lock_card(card.id)
    check_card_usable(locked)
    cash = locked.cash_value_fen + pay_fen
    await _check_limits(user_id, locked.merchant_id, cash, pay_fen)
    balance = locked.balance_fen + added_face
    escrow = custody_share(locked.custody_ratio_bp, cash)
    into_escrow = escrow - locked.escrow_held_fen
    await save_card_money(locked, balance=balance, cash=cash, escrow=escrow)
    return await ledger.record_transfer(
        kind=TransferKind.TOP_UP,
        merchant_id=locked.merchant_id,
        card_id=locked.id,
        initiated_by_id=user_id,
        amount_fen=added_face,
        cash_amount_fen=pay_fen,
        after=CardSnapshot(balance, cash, escrow),
        legs=[
            debit(source, pay_fen),
            credit(ledger.escrow_account(locked.merchant_id), into_escrow),
            credit(ledger.settlement_account(locked.merchant_id), pay_fen - into_escrow),
        ],
    )


def check_card_usable(card: Card) -> None:
    if card.status is CardStatus.FROZEN:
        raise CardNotActive("The card is frozen while its refund request waits for a decision")
    if card.status is not CardStatus.ACTIVE:
        raise CardNotActive(f"The card is {card.status.value.lower()}")
    if is_expired(card, clock.now()):
        raise CardNotActive("The card has expired; it can still be refunded")
