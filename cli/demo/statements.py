"""The demo's week of statements, reconciled: for each of the last seven days the channel's
trade bill (downloaded from the simulator) and the custody bank's MT940 statement (rendered
from the custody ledger's movements of the day), written to STATEMENTS_DIR and reconciled
through the services the next morning, as `anfu reconcile` would.

Two differences are planted, one of each source, on two merchants: the channel records one
payment PLANTED_SHORTFALL_FEN short (changed in the simulator's state, so the running
simulator serves the same bill), and the bank's statement of the next day lacks the custody
credit of one purchase. Everything else reconciles clean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from cli.demo.channel_week import ChannelWeek, open_channel, pay_the_week
from cli.demo.world import SHANGHAI, World
from models import PaymentOrder, ReconciliationReport
from services import ledger
from services.bank_statements import BankLine, custody_reference, render_mt940
from services.reconcile_bank import custody_movements, reconcile_bank
from services.reconcile_channel import reconcile_channel
from settings import get_settings

PLANTED_SHORTFALL_FEN = 1_000
CHANNEL_PLANTED_DAY = 4  # the week's fifth day, three days ago: its bill is short ...
BANK_PLANTED_DAY = 5  # ... and the custody statement of the day before yesterday a line
RECONCILED_AT = time(9, 0)  # the morning after, Beijing time


async def load_week(world: World, done: Callable[[], object]) -> str:
    """Pay the week through the channel, write and reconcile its statements; the summary's
    line about them."""
    async with open_channel(world) as week:
        await pay_the_week(world, week)
        done()
        reports = await reconcile_the_week(week)
        done()
    return summary_line(reports)


def bill_name(day: date) -> str:
    return f"wechat-tradebill-{day.isoformat()}.csv"


def statement_name(day: date) -> str:
    return f"custody-{day.isoformat()}.mt940"


@dataclass(frozen=True)
class Planted:
    """The two differences the week's statements hold."""

    channel_order: PaymentOrder  # the bill's amount for it is short
    bank_order: PaymentOrder  # its custody line is missing from the statement


def plant(week: ChannelWeek) -> Planted:
    """Choose the two payments (of two different merchants) and short the channel's record."""
    channel_order = week.purchases(CHANNEL_PLANTED_DAY)[0]
    bank_order = next(
        order
        for order in week.purchases(BANK_PLANTED_DAY)
        if order.merchant_id != channel_order.merchant_id and order.transfer_id is not None
    )
    record = week.simulator.store.orders[channel_order.out_trade_no]
    record["amount"]["total"] = channel_order.amount_fen - PLANTED_SHORTFALL_FEN
    week.simulator.store.save()
    return Planted(channel_order, bank_order)


async def reconcile_the_week(week: ChannelWeek) -> list[ReconciliationReport]:
    """Write each day's two statements and reconcile them; returns the 14 reports."""
    directory = Path(get_settings().statements_dir)
    planted = plant(week)
    missing = (
        custody_reference(planted.bank_order.transfer_id or 0),
        planted.bank_order.merchant_id,
    )
    opening = await _custody_before(week.days[0])
    reports = []
    for index, day in enumerate(week.days):
        week.time.set(_morning_after(day))
        bill = await week.channel.trade_bill(day)
        _write(directory / bill_name(day), bill)
        moved = await custody_movements(day)
        lines = [
            BankLine(day, reference, merchant_id, fen)
            for (reference, merchant_id), fen in sorted(moved.items())
            if index != BANK_PLANTED_DAY or (reference, merchant_id) != missing
        ]
        statement = render_mt940(lines, day, opening_fen=opening)
        # The bank's balance runs on from its own statements, the missing credit included.
        opening += sum(line.amount_fen for line in lines)
        _write(directory / statement_name(day), statement)
        reports.append(await reconcile_channel(day, data=bill, name=bill_name(day)))
        reports.append(
            await reconcile_bank(statement, name=statement_name(day), statement_format="mt940")
        )
    return reports


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _morning_after(day: date) -> datetime:
    """When the day is reconciled: the next morning, or now if that has not come yet."""
    morning = datetime.combine(day + timedelta(days=1), RECONCILED_AT, tzinfo=SHANGHAI)
    return min(morning.astimezone(UTC), datetime.now(UTC))


async def _custody_before(day: date) -> int:
    """What the custody account held when `day` began."""
    start = datetime.combine(day, time(), tzinfo=SHANGHAI).astimezone(UTC)
    moved = await ledger.custody_movements(datetime(2000, 1, 1, tzinfo=UTC), start)
    return sum(moved.values())


def summary_line(reports: list[ReconciliationReport]) -> str:
    differences = sum(report.difference_count for report in reports)
    return (
        f"  statements {len(reports)} reconciled in {get_settings().statements_dir} "
        f"(7 days of bills and custody): {differences} differences"
    )
