"""Reconciling the channel's trade bill with payment orders and refunds; the reports and
alerts regulators read, and the explanations they write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import httpx
import pytest

from channel.bill import BillRow
from models import ReconciliationDifference, ReconciliationReport, RiskAlert
from models.enums import (
    AlertStatus,
    DifferenceKind,
    PaymentOrderStatus,
    ReconciliationSource,
    RiskAlertKind,
    RiskLevel,
    Role,
)
from schema.ids import encode_id
from services.payment_orders import merchant_tag
from services.reconcile_channel import compare_bill
from services.reconciliation import store
from tests.reconciliation_support import (
    at,
    bill_row,
    fresh_day,
    paid_order,
    payment_row,
    refund_row,
    succeeded_refund,
)
from tests.support import (
    MerchantWorld,
    assert_ledger_clean,
    call,
    data_of,
    error_at,
    make_merchant,
    make_user,
)

pytestmark = pytest.mark.usefixtures("database")

REPORTS = """
query Reports($source: ReconciliationSource, $from: Date, $to: Date) {
  reconciliationReports(source: $source, from: $from, to: $to, first: 10) {
    totalCount
    edges { node { id source statementDate matchedCount matchedAmount statementCount
      statementAmount ledgerCount ledgerAmount differenceCount
      differences { id kind reference merchant { id } ledgerAmount statementAmount
        ledgerStatus statementStatus detail explanation alert { id kind severity status } } } }
  }
}
"""
REPORT = """
query Report($id: ID!) {
  reconciliationReport(id: $id) { id differenceCount }
  node(id: $id) { ... on ReconciliationReport { statementDate } }
}
"""
EXPLAIN = """
mutation Explain($id: ID!, $explanation: String!) {
  explainReconciliationDifference(differenceId: $id, explanation: $explanation) {
    id explanation alert { id status }
  }
}
"""


async def reconcile(day: dt.date, rows: Sequence[BillRow]) -> ReconciliationReport:
    comparison = await compare_bill(day, rows)
    return await store(ReconciliationSource.CHANNEL, day, f"bill {day}", "0" * 64, comparison)


async def differences_of(report: ReconciliationReport) -> list[ReconciliationDifference]:
    return await ReconciliationDifference.filter(report_id=report.id).order_by("id")


async def mismatch_alerts(world: MerchantWorld) -> list[RiskAlert]:
    return await RiskAlert.filter(
        merchant_id=world.merchant.id, kind=RiskAlertKind.RECONCILIATION_MISMATCH
    ).order_by("id")


async def test_a_clean_day_has_no_difference_and_raises_nothing() -> None:
    world, consumer, day = await make_merchant(), await make_user(), fresh_day()
    orders = [await paid_order(world, consumer, at(day, hour)) for hour in (9, 12, 18)]
    refund = await succeeded_refund(orders[0], at(day, 20), 20_000)
    # Refunded later: paid on the day all the same.
    refunded = await paid_order(
        world, consumer, at(day, 21), 5_000, status=PaymentOrderStatus.REFUNDED
    )
    rows = [payment_row(order) for order in [*orders, refunded]]
    rows.insert(1, refund_row(refund, orders[0]))

    report = await reconcile(day, rows)

    assert await differences_of(report) == []
    assert (report.statement_count, report.ledger_count, report.matched_count) == (5, 5, 5)
    net = 3 * 70_000 + 5_000 - 20_000
    assert report.statement_fen == report.ledger_fen == report.matched_fen == net
    assert await mismatch_alerts(world) == []
    await assert_ledger_clean()


async def test_an_amount_planted_in_the_bill_is_the_one_difference_and_raises_a_high_alert(
    client: httpx.AsyncClient,
) -> None:
    world, consumer, day = await make_merchant(), await make_user(), fresh_day()
    orders = [await paid_order(world, consumer, at(day, hour)) for hour in (9, 10, 11)]
    rows = [
        payment_row(orders[0]),
        payment_row(orders[1], amount_fen=69_000),
        payment_row(orders[2]),
    ]

    report = await reconcile(day, rows)

    (difference,) = await differences_of(report)
    assert difference.kind is DifferenceKind.AMOUNT_DIFFERS
    assert difference.reference == orders[1].out_trade_no
    assert difference.merchant_id == world.merchant.id
    assert (difference.ledger_amount_fen, difference.statement_amount_fen) == (70_000, 69_000)
    assert (report.matched_count, report.difference_count) == (2, 1)
    (alert,) = await mismatch_alerts(world)
    assert (alert.severity, alert.status) == (RiskLevel.HIGH, AlertStatus.OPEN)
    assert difference.alert_id == alert.id

    regulator = await make_user(Role.REGULATOR)
    found = data_of(
        await call(
            client,
            REPORTS,
            {"source": "CHANNEL", "from": day.isoformat(), "to": day.isoformat()},
            regulator,
        )
    )["reconciliationReports"]
    node = found["edges"][0]["node"]
    assert node["id"] == encode_id("ReconciliationReport", report.id)
    assert (node["matchedAmount"], node["statementAmount"], node["ledgerAmount"]) == (
        "1400.00",
        "2090.00",
        "2100.00",
    )
    (shown,) = node["differences"]
    assert shown["kind"] == "AMOUNT_DIFFERS"
    assert (shown["ledgerAmount"], shown["statementAmount"]) == ("700.00", "690.00")
    assert shown["merchant"]["id"] == encode_id("Merchant", world.merchant.id)
    assert shown["alert"] == {
        "id": encode_id("RiskAlert", alert.id),
        "kind": "RECONCILIATION_MISMATCH",
        "severity": "HIGH",
        "status": "OPEN",
    }
    await assert_ledger_clean()


async def test_missing_on_either_side_and_a_status_that_differs_are_each_found() -> None:
    world, consumer, day = await make_merchant(), await make_user(), fresh_day()
    matched = await paid_order(world, consumer, at(day, 9))
    unbilled = await paid_order(world, consumer, at(day, 10), 30_000)
    closed = await paid_order(world, consumer, at(day, 11), status=PaymentOrderStatus.CLOSED)
    refund = await succeeded_refund(matched, at(day, 15), 10_000)
    stranger = bill_row(
        trade_time=at(day, 12),
        transaction_id="4200000000000000000000000001",
        out_trade_no=f"X{day:%Y%m%d}{world.merchant.id}",
        trade_state="SUCCESS",
        amount_fen=12_300,
        attach=merchant_tag(world.merchant.id),
    )
    rows = [
        payment_row(matched),
        payment_row(closed, trade_time=at(day, 11)),
        stranger,
        refund_row(refund, matched, refund_fen=11_000),
    ]

    report = await reconcile(day, rows)

    found = {(d.kind, d.reference): d for d in await differences_of(report)}
    assert set(found) == {
        (DifferenceKind.STATUS_DIFFERS, closed.out_trade_no),
        (DifferenceKind.MISSING_IN_LEDGER, stranger.out_trade_no),
        (DifferenceKind.MISSING_AT_SOURCE, unbilled.out_trade_no),
        (DifferenceKind.AMOUNT_DIFFERS, refund.out_refund_no),
    }
    status = found[(DifferenceKind.STATUS_DIFFERS, closed.out_trade_no)]
    assert (status.ledger_status, status.statement_status) == ("CLOSED", "SUCCESS")
    assert found[(DifferenceKind.MISSING_IN_LEDGER, stranger.out_trade_no)].merchant_id == (
        world.merchant.id
    )
    refund_difference = found[(DifferenceKind.AMOUNT_DIFFERS, refund.out_refund_no)]
    assert (refund_difference.ledger_amount_fen, refund_difference.statement_amount_fen) == (
        -10_000,
        -11_000,
    )
    # One open alert per merchant and kind: all four hold it.
    (alert,) = await mismatch_alerts(world)
    assert alert.severity is RiskLevel.HIGH
    assert {d.alert_id for d in found.values()} == {alert.id}


async def test_a_bill_row_naming_no_merchant_is_reported_without_an_alert() -> None:
    day = fresh_day()
    row = bill_row(
        trade_time=at(day, 9),
        transaction_id="4200000000000000000000000002",
        out_trade_no=f"Z{day:%Y%m%d}",
        trade_state="SUCCESS",
        amount_fen=500,
    )

    report = await reconcile(day, [row])

    (difference,) = await differences_of(report)
    assert difference.kind is DifferenceKind.MISSING_IN_LEDGER
    assert (difference.merchant_id, difference.alert_id) == (None, None)
    assert "without a risk alert" in difference.detail


async def test_a_payment_at_midnight_booked_on_the_next_day_is_explained_as_timing() -> None:
    world, consumer, day = await make_merchant(), await make_user(), fresh_day()
    # The channel says 23:59:50; our notification arrived and was booked at 00:00:40.
    order = await paid_order(world, consumer, at(day + dt.timedelta(days=1), 0, 0, 40))
    late = payment_row(order, trade_time=at(day, 23, 59, 50))
    # Far from midnight, the same thing is no timing case.
    noon = await paid_order(world, consumer, at(day + dt.timedelta(days=1), 12))

    report = await reconcile(day, [late])
    next_report = await reconcile(day + dt.timedelta(days=1), [payment_row(noon)])

    (difference,) = await differences_of(report)
    assert difference.kind is DifferenceKind.MISSING_IN_LEDGER
    assert difference.explanation is not None and difference.explanation.startswith("Timing")
    assert difference.alert_id is None
    (mirror,) = await differences_of(next_report)
    assert (mirror.kind, mirror.reference) == (DifferenceKind.MISSING_AT_SOURCE, order.out_trade_no)
    assert mirror.explanation is not None and "within 300 s of midnight" in mirror.explanation
    assert await mismatch_alerts(world) == []


async def test_a_rerun_keeps_history_and_raises_no_second_alert() -> None:
    world, consumer, day = await make_merchant(), await make_user(), fresh_day()
    order = await paid_order(world, consumer, at(day, 9))

    first = await reconcile(day, [])
    second = await reconcile(day, [])

    assert first.id != second.id
    (alert,) = await mismatch_alerts(world)
    assert alert.severity is RiskLevel.MEDIUM
    for report in (first, second):
        (difference,) = await differences_of(report)
        assert (difference.kind, difference.reference) == (
            DifferenceKind.MISSING_AT_SOURCE,
            order.out_trade_no,
        )
        assert difference.alert_id == alert.id


async def test_a_regulator_explains_a_difference_and_its_alert_is_resolved(
    client: httpx.AsyncClient,
) -> None:
    world, consumer, day = await make_merchant(), await make_user(), fresh_day()
    one = await paid_order(world, consumer, at(day, 9))
    two = await paid_order(world, consumer, at(day, 10))
    first = await reconcile(day, [payment_row(two)])
    await reconcile(day, [])  # a rerun: the same difference about `one`, and one about `two`
    regulator = await make_user(Role.REGULATOR)
    (alert,) = await mismatch_alerts(world)
    (about_one,) = await differences_of(first)
    assert about_one.reference == one.out_trade_no

    explained = data_of(
        await call(
            client,
            EXPLAIN,
            {"id": encode_id("ReconciliationDifference", about_one.id), "explanation": "补单"},
            regulator,
        )
    )["explainReconciliationDifference"]

    assert explained["explanation"] == "补单"
    # The rerun's difference about `two` still holds the alert open.
    assert explained["alert"]["status"] == "OPEN"
    assert (
        await ReconciliationDifference.filter(
            reference=one.out_trade_no, explanation__isnull=True
        ).count()
        == 0
    )
    (about_two,) = await ReconciliationDifference.filter(reference=two.out_trade_no)
    again = await call(
        client,
        EXPLAIN,
        {"id": encode_id("ReconciliationDifference", about_two.id), "explanation": "晚到的账单"},
        regulator,
    )
    assert data_of(again)["explainReconciliationDifference"]["alert"]["status"] == "RESOLVED"
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.RESOLVED
    # Explained once is explained.
    twice = await call(
        client,
        EXPLAIN,
        {"id": encode_id("ReconciliationDifference", about_two.id), "explanation": "x"},
        regulator,
    )
    assert error_at(twice, "explainReconciliationDifference") == "INVALID_STATE"
    blank = await call(
        client,
        EXPLAIN,
        {"id": encode_id("ReconciliationDifference", about_one.id), "explanation": "  "},
        regulator,
    )
    assert error_at(blank, "explainReconciliationDifference") == "BAD_USER_INPUT"
    # A rerun repeats the regulator's explanation: no new alert.
    third = await reconcile(day, [])
    assert all(d.explanation for d in await differences_of(third))
    assert len(await mismatch_alerts(world)) == 1


async def test_only_regulators_read_reports_and_explain(client: httpx.AsyncClient) -> None:
    world, consumer, day = await make_merchant(), await make_user(), fresh_day()
    await paid_order(world, consumer, at(day, 9))
    report = await reconcile(day, [])
    (difference,) = await differences_of(report)
    report_id = encode_id("ReconciliationReport", report.id)
    explain = {"id": encode_id("ReconciliationDifference", difference.id), "explanation": "x"}

    for user in (consumer, world.owner):
        listed = await call(client, REPORTS, {}, user)
        assert error_at(listed, "reconciliationReports") == "FORBIDDEN"
        one = await call(client, REPORT, {"id": report_id}, user)
        assert error_at(one, "reconciliationReport") == "FORBIDDEN"
        assert one["data"]["node"] is None
        refused = await call(client, EXPLAIN, explain, user)
        assert error_at(refused, "explainReconciliationDifference") == "FORBIDDEN"
    anonymous = await call(client, REPORTS, {}, None)
    assert error_at(anonymous, "reconciliationReports") == "UNAUTHENTICATED"
    await difference.refresh_from_db()
    assert difference.explanation is None

    regulator = await make_user(Role.REGULATOR)
    seen = data_of(await call(client, REPORT, {"id": report_id}, regulator))
    assert seen["reconciliationReport"] == {"id": report_id, "differenceCount": 1}
    assert seen["node"] == {"statementDate": day.isoformat()}
