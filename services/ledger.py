"""The custody ledger: the only writer of transfers and postings.

Every money movement is one transfer of balanced postings between three kinds
of account: `consumer_funds` (the outside world), `escrow:merchant:<id>`
(custody) and `merchant_settlement:<id>` (released to the merchant). Postings
are append-only; account rows keep running totals, updated in the same
database transaction, so balances are read without summing history.
`verify_ledger` checks every invariant over the whole database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.expressions import F
from tortoise.functions import Sum

from core import clock
from models import Card, LedgerAccount, Posting, Transfer
from models.enums import LIVE_CARD_STATUSES, LedgerSide, TransferKind
from services.custody import custody_share

CONSUMER_FUNDS = "consumer_funds"
# Refunds the payment channel refused, owed to consumers until a regulator marks them paid.
MANUAL_PAYOUTS = "manual_payouts"
_CHANNEL_CLEARING = "channel_clearing:"
# The outside world and the channels keep no running total: every purchase and refund would
# queue on their one row. Their balance, when wanted, is the sum of their postings
# (verify_ledger checks the whole).
UNTRACKED_ACCOUNTS = frozenset({CONSUMER_FUNDS})


def channel_clearing_account(channel: str) -> str:
    """Cash a payment channel holds for the platform: paid in, not yet settled to custody, less
    what went back out through the channel's refunds."""
    return f"{_CHANNEL_CLEARING}{channel}"


def _tracked(account: str) -> bool:
    return account not in UNTRACKED_ACCOUNTS and not account.startswith(_CHANNEL_CLEARING)


def escrow_account(merchant_id: int) -> str:
    return f"escrow:merchant:{merchant_id}"


def settlement_account(merchant_id: int) -> str:
    return f"merchant_settlement:{merchant_id}"


@dataclass(frozen=True)
class Leg:
    """One intended posting: `amount_fen` on `account`, debit or credit."""

    account: str
    side: LedgerSide
    amount_fen: int


def debit(account: str, amount_fen: int) -> Leg:
    return Leg(account, LedgerSide.DEBIT, amount_fen)


def credit(account: str, amount_fen: int) -> Leg:
    return Leg(account, LedgerSide.CREDIT, amount_fen)


class UnbalancedTransfer(Exception):
    """A programming error: postings that do not balance never reach the database."""


@dataclass(frozen=True)
class CardSnapshot:
    """A card's money after the movement, recorded on the transfer."""

    balance_fen: int
    cash_value_fen: int
    escrow_held_fen: int


async def record_transfer(
    *,
    kind: TransferKind,
    merchant_id: int,
    legs: list[Leg],
    card_id: int | None = None,
    store_id: int | None = None,
    initiated_by_id: int | None = None,
    amount_fen: int = 0,
    cash_amount_fen: int = 0,
    after: CardSnapshot | None = None,
    created_at: datetime | None = None,
    allow_no_postings: bool = False,
) -> Transfer:
    """Write one balanced transfer. Call inside the caller's database transaction.

    `allow_no_postings`: a redemption too small to release a fen from custody changes the
    card but moves no cash; it is still a card transaction, with no postings.
    """
    legs = [leg for leg in legs if leg.amount_fen != 0]
    if legs or not allow_no_postings:
        _check_balanced(legs)
    transfer = await Transfer.create(
        kind=kind,
        merchant_id=merchant_id,
        card_id=card_id,
        store_id=store_id,
        initiated_by_id=initiated_by_id,
        amount_fen=amount_fen,
        cash_amount_fen=cash_amount_fen,
        balance_after_fen=after.balance_fen if after else 0,
        cash_value_after_fen=after.cash_value_fen if after else 0,
        escrow_held_after_fen=after.escrow_held_fen if after else 0,
        created_at=created_at or clock.now(),
    )
    await Posting.bulk_create(
        [
            Posting(
                transfer_id=transfer.id,
                account=leg.account,
                side=leg.side,
                amount_fen=leg.amount_fen,
            )
            for leg in legs
        ]
    )
    # In name order: concurrent transfers lock account rows in one order, so they queue
    # rather than deadlock on PostgreSQL (a purchase and a refund touch the same accounts).
    for account, (debits, credits) in sorted(_totals_by_account(legs).items()):
        if _tracked(account):
            await _add_to_account(account, debits, credits)
    return transfer


def _check_balanced(legs: list[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedTransfer("a transfer needs at least two postings")
    if any(leg.amount_fen < 0 for leg in legs):
        raise UnbalancedTransfer("posting amounts are positive; the side gives the direction")
    debits = sum(leg.amount_fen for leg in legs if leg.side is LedgerSide.DEBIT)
    credits = sum(leg.amount_fen for leg in legs if leg.side is LedgerSide.CREDIT)
    if debits != credits:
        raise UnbalancedTransfer(f"debits {debits} != credits {credits}")


def _totals_by_account(legs: list[Leg]) -> dict[str, tuple[int, int]]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for leg in legs:
        totals[leg.account][0 if leg.side is LedgerSide.DEBIT else 1] += leg.amount_fen
    return {account: (d, c) for account, (d, c) in totals.items()}


async def _add_to_account(account: str, debits_fen: int, credits_fen: int) -> None:
    updated = await LedgerAccount.filter(name=account).update(
        debits_fen=F("debits_fen") + debits_fen, credits_fen=F("credits_fen") + credits_fen
    )
    if not updated:
        # First movement on this account. Concurrent creators collide on the unique
        # name; the loser's whole database transaction rolls back and is retried.
        await LedgerAccount.create(name=account, debits_fen=debits_fen, credits_fen=credits_fen)


async def account_balances(names: list[str]) -> dict[str, int]:
    """Credits minus debits for each named account (0 for an account never used)."""
    rows = await LedgerAccount.filter(name__in=names).values_list(
        "name", "debits_fen", "credits_fen"
    )
    found = {name: credits - debits for name, debits, credits in rows}
    return {name: found.get(name, 0) for name in names}


async def custody_movements(start: datetime, end: datetime) -> dict[tuple[int, int], int]:
    """The net custody movement (credits - debits, never 0) of each transfer made in [start,
    end) on each merchant's escrow account: {(transfer id, merchant id): fen}."""
    rows = await Posting.filter(
        account__startswith="escrow:merchant:",
        transfer__created_at__gte=start,
        transfer__created_at__lt=end,
    ).values_list("transfer_id", "account", "side", "amount_fen")
    moved: dict[tuple[int, int], int] = defaultdict(int)
    for transfer_id, account, side, amount in rows:
        signed = amount if side == LedgerSide.CREDIT else -amount
        moved[(transfer_id, int(account.rsplit(":", 1)[1]))] += signed
    return {key: fen for key, fen in moved.items() if fen}


# ---------------------------------------------------------------- verification


@dataclass
class LedgerReport:
    """What `verify_ledger` checked and what it found wrong."""

    transfers: int = 0
    postings: int = 0
    accounts: int = 0
    cards: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_ledger() -> LedgerReport:
    """Check every invariant of the ledger over the whole database."""
    report = LedgerReport()
    await _verify_transfers_balance(report)
    await _verify_account_totals(report)
    await _verify_cards(report)
    return report


async def _verify_transfers_balance(report: LedgerReport) -> None:
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    rows = await Posting.all().values_list("transfer_id", "side", "amount_fen")
    for transfer_id, side, amount in rows:
        entry = sums[transfer_id]
        entry[0 if side == LedgerSide.DEBIT else 1] += amount
        entry[2] += 1
        if amount <= 0:
            report.problems.append(
                f"transfer {transfer_id}: posting of {amount} fen is not positive"
            )
    report.postings = len(rows)
    transfers = await Transfer.all().values_list("id", "kind")
    report.transfers = len(transfers)
    for transfer_id, kind in transfers:
        debits, credits, count = sums.get(transfer_id, (0, 0, 0))
        if count == 0 and kind == TransferKind.REDEMPTION:
            continue  # released less than a fen from custody: the card changed, no cash moved
        if count < 2:
            report.problems.append(f"transfer {transfer_id}: {count} posting(s), needs two or more")
        if debits != credits:
            report.problems.append(
                f"transfer {transfer_id}: debits {debits} fen != credits {credits} fen"
            )


async def _verify_account_totals(report: LedgerReport) -> None:
    posted: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        await Posting.all()
        .group_by("account", "side")
        .annotate(total=Sum("amount_fen"))
        .values_list("account", "side", "total")
    )
    for account, side, total in rows:
        posted[account][0 if side == LedgerSide.DEBIT else 1] += int(total or 0)
    accounts = {
        name: (debits, credits)
        for name, debits, credits in await LedgerAccount.all().values_list(
            "name", "debits_fen", "credits_fen"
        )
    }
    report.accounts = len(accounts)
    for name in sorted(name for name in set(posted) | set(accounts) if _tracked(name)):
        expected = tuple(posted.get(name, (0, 0)))
        if accounts.get(name, (0, 0)) != expected:
            report.problems.append(
                f"account {name}: totals {accounts.get(name, (0, 0))} != its postings {expected}"
            )
    whole = sum(credits - debits for debits, credits in posted.values())
    if whole != 0:
        report.problems.append(f"the ledger sums to {whole} fen, not zero")


async def _verify_cards(report: LedgerReport) -> None:
    cards = await Card.all().values(
        "id",
        "merchant_id",
        "status",
        "balance_fen",
        "cash_value_fen",
        "escrow_held_fen",
        "custody_ratio_bp",
    )
    report.cards = len(cards)
    escrow_by_merchant: dict[int, int] = defaultdict(int)
    for card in cards:
        card_id = card["id"]
        for column in ("balance_fen", "cash_value_fen", "escrow_held_fen"):
            if card[column] < 0:
                report.problems.append(f"card {card_id}: {column} is {card[column]}")
        if card["status"] in LIVE_CARD_STATUSES:
            expected = custody_share(card["custody_ratio_bp"], card["cash_value_fen"])
            if card["escrow_held_fen"] != expected:
                report.problems.append(
                    f"card {card_id}: custody share {card['escrow_held_fen']} fen, "
                    f"expected {expected} fen"
                )
            escrow_by_merchant[card["merchant_id"]] += card["escrow_held_fen"]
        elif card["cash_value_fen"] or card["balance_fen"] or card["escrow_held_fen"]:
            report.problems.append(f"card {card_id}: {card['status']} but money is left on it")
    await _verify_card_history(report, {card["id"]: card for card in cards})
    escrow_accounts = await LedgerAccount.filter(name__startswith="escrow:merchant:").values_list(
        "name", "debits_fen", "credits_fen"
    )
    held = {
        int(name.rsplit(":", 1)[1]): credits - debits for name, debits, credits in escrow_accounts
    }
    for merchant_id in sorted(set(held) | set(escrow_by_merchant)):
        in_account, on_cards = held.get(merchant_id, 0), escrow_by_merchant.get(merchant_id, 0)
        if in_account != on_cards:
            report.problems.append(
                f"merchant {merchant_id}: custody account holds {in_account} fen, "
                f"its live cards {on_cards} fen"
            )


async def _verify_card_history(report: LedgerReport, cards: dict[int, dict]) -> None:
    """Replaying each card's transactions gives the money recorded on them and on the card."""
    replayed: dict[int, tuple[int, int]] = {}
    rows = (
        await Transfer.filter(card_id__isnull=False)
        .order_by("id")
        .values_list(
            "card_id",
            "id",
            "kind",
            "amount_fen",
            "cash_amount_fen",
            "balance_after_fen",
            "cash_value_after_fen",
        )
    )
    for card_id, transfer_id, kind, amount, cash_amount, balance_after, cash_after in rows:
        balance, cash = replayed.get(card_id, (0, 0))
        if kind == TransferKind.PURCHASE:
            balance, cash = amount, cash_amount
        elif kind == TransferKind.TOP_UP:
            balance, cash = balance + amount, cash + cash_amount
        elif kind == TransferKind.REDEMPTION or kind == TransferKind.REFUND:
            balance, cash = balance - amount, cash - cash_amount
        if (balance, cash) != (balance_after, cash_after):
            report.problems.append(
                f"transfer {transfer_id}: card {card_id} replays to {balance}/{cash} fen "
                f"but records {balance_after}/{cash_after}"
            )
        replayed[card_id] = (balance_after, cash_after)
    for card_id, card in cards.items():
        if card_id not in replayed:
            report.problems.append(f"card {card_id}: no transfer issued it")
        elif replayed[card_id] != (card["balance_fen"], card["cash_value_fen"]):
            report.problems.append(
                f"card {card_id}: holds {card['balance_fen']}/{card['cash_value_fen']} fen, "
                f"its transactions end at {replayed[card_id][0]}/{replayed[card_id][1]}"
            )
