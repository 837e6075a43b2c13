"""The risk rules as pure functions: each threshold exactly where DESIGN.md puts it, the
severities, and the night periods in the platform's time zone (services/risk.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.enums import AlertStatus, RiskAlertKind, RiskLevel
from services import risk
from services.risk_metrics import (
    ComplaintLoad,
    ConsumerPurchases,
    Custody,
    NightRedemptions,
    RedemptionFlow,
    SalesHistory,
    StoreBurst,
    StoreClosures,
    night_periods,
)
from settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
T = risk.Thresholds.of(Settings())
QUIET_NIGHT = NightRedemptions((), 0)
QUIET_BURST = StoreBurst(NOW, NOW, None, 0)


def sales(window_fen: int, baseline_fen: int = 0, baseline_days: float = 84.0, history=91.0):
    return SalesHistory(
        NOW - dt.timedelta(days=7), NOW, window_fen, baseline_fen, baseline_days, history
    )


def flow(window_fen: int, baseline_fen: int = 420_000, sales_fen: int = 100_000, history=98.0):
    return RedemptionFlow(
        NOW - dt.timedelta(days=14), NOW, window_fen, baseline_fen, 84.0, history, sales_fen
    )


# ---------------------------------------------------------------- defaults


def test_the_defaults_are_design_md_s():
    assert (T.sales_spike_factor, T.sales_spike_min_fen, T.history_days) == (3.0, 500_000, 30)
    assert (T.stall_ratio, T.burst_count, T.burst_window) == (0.3, 20, dt.timedelta(minutes=10))
    assert (T.night_redemptions, T.night_end_hour, T.zone) == (0, 6, SHANGHAI)
    assert (T.large_purchase_fen, T.liability_fen) == (1_000_000, 20_000_000)
    assert (T.complaints_per_100, T.complaints_min, T.store_closure_share) == (5.0, 3, 0.3)


# ---------------------------------------------------------------- SALES_SPIKE


def test_a_week_at_exactly_three_times_the_average_week_is_no_spike():
    # An average week of 2,000.00 (24,000.00 over 84 days)
    assert risk.sales_spike(sales(600_000, 2_400_000), T) is None
    found = risk.sales_spike(sales(600_001, 2_400_000), T)
    assert found is not None and found.severity is RiskLevel.MEDIUM
    assert [m.name for m in found.metrics] == [
        "sales_7d_yuan",
        "sales_7d_to_average_week",
        "sales_history_days",
    ]


def test_a_spike_must_be_over_5000_yuan():
    # Nothing sold before: any week is many times the average, but 5,000.00 is not over 5,000.00
    assert risk.sales_spike(sales(500_000), T) is None
    found = risk.sales_spike(sales(500_001), T)
    assert found is not None and found.severity is RiskLevel.HIGH


def test_a_merchant_selling_for_less_than_30_days_has_no_spike():
    assert risk.sales_spike(sales(5_000_000, 0, 22.9, history=29.9), T) is None
    assert risk.sales_spike(sales(5_000_000, 0, 23.0, history=30.0), T) is not None


@given(
    window=st.integers(0, 10**9),
    more=st.integers(1, 10**8),
    baseline=st.integers(0, 10**9),
    baseline_days=st.floats(1, 90),
)
def test_selling_more_never_quiets_a_spike_nor_lowers_its_severity(
    window, more, baseline, baseline_days
):
    before = risk.sales_spike(sales(window, baseline, baseline_days), T)
    after = risk.sales_spike(sales(window + more, baseline, baseline_days), T)
    if before is not None:
        assert after is not None
        assert risk.SEVERITY_RANK[after.severity] >= risk.SEVERITY_RANK[before.severity]


# ---------------------------------------------------------------- REDEMPTION_ANOMALY


def test_redemptions_at_exactly_30_percent_of_the_norm_are_no_stall():
    # The norm: 4,200.00 over 84 days, 700.00 a fortnight
    assert risk.redemption_anomaly(flow(21_000), QUIET_BURST, QUIET_NIGHT, T) is None
    found = risk.redemption_anomaly(flow(20_999), QUIET_BURST, QUIET_NIGHT, T)
    assert found is not None and found.severity is RiskLevel.MEDIUM
    assert found.metrics[0].name == "redemptions_14d_to_norm"


def test_a_stall_under_a_tenth_of_the_norm_is_high():
    found = risk.redemption_anomaly(flow(6_999), QUIET_BURST, QUIET_NIGHT, T)
    assert found is not None and found.severity is RiskLevel.HIGH
    found = risk.redemption_anomaly(flow(7_000), QUIET_BURST, QUIET_NIGHT, T)
    assert found is not None and found.severity is RiskLevel.MEDIUM


def test_no_stall_without_sales_or_without_a_norm_or_history():
    assert risk.redemption_stall(flow(0, sales_fen=0), T) is None
    assert risk.redemption_stall(flow(0, baseline_fen=0), T) is None
    assert risk.redemption_stall(flow(0, history=29.0), T) is None


def test_a_burst_is_over_20_redemptions_in_10_minutes_at_one_store():
    assert risk.redemption_burst(StoreBurst(NOW, NOW, 7, 20), T) is None
    found = risk.redemption_burst(StoreBurst(NOW, NOW, 7, 21), T)
    assert found is not None and found.severity is RiskLevel.MEDIUM
    assert found.evidence[0].store_id == 7


def test_one_night_redemption_is_a_low_alert():
    assert risk.night_redemption(NightRedemptions((), 0), T) is None
    found = risk.night_redemption(NightRedemptions(((NOW, NOW),), 1), T)
    assert found is not None and found.severity is RiskLevel.LOW


def test_the_parts_of_a_redemption_anomaly_add_up_and_the_worst_severity_counts():
    found = risk.redemption_anomaly(
        flow(0), StoreBurst(NOW, NOW, 7, 30), NightRedemptions(((NOW, NOW),), 2), T
    )
    assert found is not None
    assert found.kind is RiskAlertKind.REDEMPTION_ANOMALY
    assert found.severity is RiskLevel.HIGH
    assert len(found.summary.split("; ")) == 3
    assert [m.name for m in found.metrics] == [
        "redemptions_14d_to_norm",
        "redeemed_14d_yuan",
        "sales_14d_yuan",
        "redemptions_10min_at_one_store",
        "night_redemptions_24h",
    ]


# ---------------------------------------------------------------- LARGE_PURCHASE


def test_a_large_purchase_is_10000_yuan_or_more_from_one_consumer():
    assert risk.large_purchase(ConsumerPurchases(NOW, NOW, ((1, 999_999),)), T) is None
    found = risk.large_purchase(ConsumerPurchases(NOW, NOW, ((1, 1_000_000), (2, 5))), T)
    assert found is not None and found.severity is RiskLevel.LOW
    assert found.evidence[0].owner_ids == (1,)


def test_two_large_buyers_or_twice_the_amount_is_medium():
    two = ConsumerPurchases(NOW, NOW, ((1, 1_200_000), (2, 1_000_000)))
    twice = ConsumerPurchases(NOW, NOW, ((1, 2_000_000),))
    assert risk.large_purchase(two, T).severity is RiskLevel.MEDIUM  # type: ignore[union-attr]
    assert risk.large_purchase(twice, T).severity is RiskLevel.MEDIUM  # type: ignore[union-attr]


# ---------------------------------------------------------------- ESCROW_SHORTFALL


def test_custody_below_the_ratio_is_high():
    # 80 % of 10,000.00 is 8,000.00
    assert risk.escrow_shortfall(Custody(8_000, 800_000, 1_000_000), T) is None
    found = risk.escrow_shortfall(Custody(8_000, 799_999, 1_000_000), T)
    assert found is not None and found.severity is RiskLevel.HIGH
    assert found.metrics[0].value == 7999.99 and found.metrics[0].threshold == 8000.0


def test_a_large_liability_under_partial_custody_is_medium():
    assert risk.escrow_shortfall(Custody(9_000, 18_000_000, 20_000_000), T) is None
    found = risk.escrow_shortfall(Custody(9_000, 18_000_001, 20_000_001), T)
    assert found is not None and found.severity is RiskLevel.MEDIUM
    # Full custody is no exposure, whatever the liability
    assert risk.escrow_shortfall(Custody(10_000, 90_000_000, 90_000_000), T) is None


@given(ratio_bp=st.integers(4_000, 10_000), liability=st.integers(0, 10**10))
def test_custody_at_its_ratio_is_never_short(ratio_bp, liability):
    held = risk.custody_share(ratio_bp, liability)
    found = risk.escrow_shortfall(Custody(ratio_bp, held, liability), T)
    assert found is None or found.severity is RiskLevel.MEDIUM


# ---------------------------------------------------------------- COMPLAINT_SURGE


def test_a_surge_is_over_5_per_100_live_cards_and_at_least_3():
    assert risk.complaint_surge(ComplaintLoad(3, 60), T) is None  # 5.0 per 100
    found = risk.complaint_surge(ComplaintLoad(3, 59), T)
    assert found is not None and found.severity is RiskLevel.MEDIUM
    assert risk.complaint_surge(ComplaintLoad(2, 1), T) is None  # 200 per 100, but only 2
    found = risk.complaint_surge(ComplaintLoad(3, 10), T)
    assert found is not None and found.severity is RiskLevel.HIGH  # 30 per 100


@given(complaints=st.integers(0, 500), live=st.integers(0, 10_000))
def test_a_surge_is_raised_exactly_when_both_conditions_hold(complaints, live):
    found = risk.complaint_surge(ComplaintLoad(complaints, live), T)
    expected = complaints >= 3 and 100 * complaints / max(live, 1) > 5
    assert (found is not None) == expected


# ---------------------------------------------------------------- STORE_CLOSURES


def test_closures_are_counted_from_30_percent_of_the_stores():
    assert risk.store_closures(StoreClosures(2, 5, 2, 9), T, check_all_closed=True) is None
    found = risk.store_closures(StoreClosures(3, 7, 3, 9), T, check_all_closed=True)
    assert found is not None and found.severity is RiskLevel.MEDIUM


def test_every_store_closed_while_cards_hold_service_is_high():
    found = risk.store_closures(StoreClosures(1, 0, 1, 1), T, check_all_closed=True)
    assert found is not None and found.severity is RiskLevel.HIGH
    # Nothing owed on any card: the closures are only counted
    found = risk.store_closures(StoreClosures(1, 0, 1, 0), T, check_all_closed=True)
    assert found is not None and found.severity is RiskLevel.MEDIUM
    # Closed long ago, looked at again too soon after a regulator closed the alert: quiet
    assert risk.store_closures(StoreClosures(0, 0, 4, 9), T, check_all_closed=False) is None


# ---------------------------------------------------------------- night periods


def test_night_periods_are_midnight_to_six_in_shanghai():
    # From 10:00 on 19 November to 10:00 on 20 November, Shanghai time
    periods = night_periods(NOW - dt.timedelta(days=1), NOW, SHANGHAI, 6)
    # 00:00 to 06:00 on 20 November is 16:00 to 22:00 UTC on the 19th; the bounds are written
    # as (start, end] a microsecond earlier so that 00:00 counts and 06:00 does not.
    micro = dt.timedelta(microseconds=1)
    start = dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC)
    assert periods == ((start - micro, start + dt.timedelta(hours=6) - micro),)


instants = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
)


@given(
    since=instants,
    hours=st.floats(0, 24 * 5),
    end_hour=st.integers(1, 23),
    probe=st.floats(0, 1),
    zone=st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York"]),
)
def test_an_instant_is_in_a_night_period_exactly_when_its_local_hour_is_before_the_end(
    since, hours, end_hour, probe, zone
):
    tz = ZoneInfo(zone)
    until = since + dt.timedelta(hours=hours)
    periods = night_periods(since, until, tz, end_hour)
    # Within (since, until]
    instant = since + (until - since) * probe
    if instant <= since:
        return
    for probed in (instant, _local(instant, tz, 0), _local(instant, tz, end_hour)):
        if not since < probed <= until:
            continue
        inside = sum(1 for start, end in periods if start < probed <= end)
        assert inside == (1 if probed.astimezone(tz).hour < end_hour else 0), probed
    assert all(since <= start < end <= until for start, end in periods)


def _local(instant: dt.datetime, tz: ZoneInfo, hour: int) -> dt.datetime:
    """`hour`:00 on the local day of `instant`, in UTC."""
    day = instant.astimezone(tz).date()
    return dt.datetime.combine(day, dt.time(hour), tz).astimezone(dt.UTC)


# ---------------------------------------------------------------- what regulators may do


@pytest.mark.parametrize(
    ("status", "to", "message"),
    [
        (AlertStatus.OPEN, AlertStatus.OPEN, "The alert is already open"),
        (AlertStatus.ACKNOWLEDGED, AlertStatus.ACKNOWLEDGED, "The alert is already acknowledged"),
        (AlertStatus.ACKNOWLEDGED, AlertStatus.OPEN, "An acknowledged alert cannot be reopened"),
        (
            AlertStatus.RESOLVED,
            AlertStatus.DISMISSED,
            "A resolved alert cannot be dismissed any more",
        ),
        (
            AlertStatus.DISMISSED,
            AlertStatus.ACKNOWLEDGED,
            "A dismissed alert cannot be acknowledged any more",
        ),
        (AlertStatus.RESOLVED, AlertStatus.OPEN, "A resolved alert cannot be reopened"),
    ],
)
def test_a_refused_change_says_what_was_tried(status, to, message):
    assert to not in risk.ALLOWED_CHANGES[status]
    assert risk._refusal(status, to) == message
