"""The demo data loads through the real CLI into a fresh database, once, and the ledger holds;
it shows its progress per phase on stderr and ends with a short summary on stdout. Its last
week was paid through WeChat Pay's simulator and reconciled with two planted differences.

The suite shares one database per session, so this module migrates its own SQLite file and
runs `anfu` in subprocesses against it (in a directory of its own, where the demo writes its
simulator keys and statements under data/), then reads the file with the stdlib sqlite3 module.
The demo is built once for the module's tests (about a minute).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli.demo import DEMO_ACCOUNTS, DEMO_CHAIN_CREDIT_CODE
from cli.demo.load import PHASES
from cli.demo.runaway import RUNAWAY_CREDIT_CODE

ANFU = Path(sys.executable).parent / "anfu"

CHAIN_STORES = """
SELECT count(*) FROM stores JOIN merchants ON merchants.id = stores.merchant_id
WHERE merchants.credit_code = ? AND stores.status = 'OPEN'
"""
MERCHANT_STATUSES = "SELECT status, count(*) FROM merchants GROUP BY status"
CONSUMERS = "SELECT count(*) FROM users WHERE role = 'CONSUMER'"
DEMO_USERS = """
SELECT users.phone, users.role, users.display_name, merchants.credit_code, users.store_id,
       users.is_merchant_owner
FROM users LEFT JOIN merchants ON merchants.id = users.merchant_id
WHERE users.phone IN (?, ?, ?, ?, ?)
"""
COMPLAINT_STATUSES = "SELECT DISTINCT status FROM complaints"
CHAIN_CREDIT = "SELECT credit_grade, status FROM merchants WHERE credit_code = ?"
OPEN_ALERT_KINDS = """
SELECT DISTINCT kind FROM risk_alerts JOIN merchants ON merchants.id = risk_alerts.merchant_id
WHERE merchants.credit_code = ? AND risk_alerts.status IN ('OPEN', 'ACKNOWLEDGED')
"""
GRADES_OVER_TIME = """
SELECT grade FROM credit_scores JOIN merchants ON merchants.id = credit_scores.merchant_id
WHERE merchants.credit_code = ? ORDER BY computed_at, credit_scores.id
"""
FINANCING_OF = """
SELECT financing_applications.status, grade_at_application FROM financing_applications
JOIN merchants ON merchants.id = financing_applications.merchant_id WHERE credit_code = ?
"""
LAUNDRY_CARD_OF = """
SELECT count(*) FROM cards
JOIN users ON users.id = cards.owner_id
JOIN merchants ON merchants.id = cards.merchant_id
WHERE users.phone = ? AND merchants.credit_code = ? AND cards.status = 'ACTIVE'
"""


def anfu(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "STATEMENTS_DIR")
    }
    env["DATABASE_URL"] = f"sqlite://{database}"
    return subprocess.run(
        [str(ANFU), *args],
        env=env,
        cwd=database.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass
class Demo:
    database: Path
    migrated: subprocess.CompletedProcess[str]
    loaded: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]
    verified: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    database = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    migrated = anfu(database, "migrate")
    loaded = anfu(database, "seed-demo")
    again = anfu(database, "seed-demo")
    verified = anfu(database, "ledger", "verify")
    return Demo(database, migrated, loaded, again, verified)


def test_seed_demo_loads_once_and_the_ledger_verifies(demo: Demo) -> None:
    database, migrated, loaded, again, verified = (
        demo.database,
        demo.migrated,
        demo.loaded,
        demo.again,
        demo.verified,
    )

    assert migrated.returncode == 0, migrated.stderr
    assert loaded.returncode == 0, loaded.stderr
    # The history's 1550 and the 14 bought through the channel in the last week.
    assert "1564 purchases" in loaded.stdout, loaded.stdout
    summary = loaded.stdout.splitlines()
    assert summary[0].startswith("Loaded the Huai'an demo in ") and summary[0].endswith(" s:")
    assert len(summary) <= 10 and max(map(len, summary)) <= 100, loaded.stdout
    labels = [line.split()[0] for line in summary[1:]]
    assert {"merchants", "stores", "consumers", "transfers"} <= set(labels), loaded.stdout
    assert "holding 1564 cards" in loaded.stdout
    for phase in PHASES:
        assert f"{phase}: 100%" in loaded.stderr, loaded.stderr[-2000:]
    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stdout
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ledger OK" in verified.stdout

    with sqlite3.connect(database) as db:
        assert db.execute(CHAIN_STORES, (DEMO_CHAIN_CREDIT_CODE,)).fetchone() == (20,)
        statuses = dict(db.execute(MERCHANT_STATUSES).fetchall())
        assert set(statuses) == {"PENDING_REVIEW", "ACTIVE", "REJECTED", "SUSPENDED", "CLOSED"}
        assert sum(statuses.values()) >= 250
        assert db.execute(CONSUMERS).fetchone()[0] >= 1000
        users = {
            phone: rest for phone, *rest in db.execute(DEMO_USERS, [a.phone for a in DEMO_ACCOUNTS])
        }
        assert {phone: rest[:2] for phone, rest in users.items()} == {
            a.phone: [a.role.value, a.name] for a in DEMO_ACCOUNTS
        }
        owner, staff = users["13900000001"], users["13900000002"]
        assert owner[2:] == [DEMO_CHAIN_CREDIT_CODE, None, 1]
        assert staff[2] == DEMO_CHAIN_CREDIT_CODE and staff[3] is not None and staff[4] == 0
        complaint_statuses = {row[0] for row in db.execute(COMPLAINT_STATUSES)}
        assert complaint_statuses == {
            "SUBMITTED",
            "MERCHANT_RESPONDED",
            "UNDER_MEDIATION",
            "RESOLVED",
            "REJECTED",
            "WITHDRAWN",
        }
        assert db.execute(CHAIN_CREDIT, (DEMO_CHAIN_CREDIT_CODE,)).fetchone() == ("A", "ACTIVE")
        # The story the README follows, found by the real rules and model: the gym that sold a
        # spike of cards while it stopped serving has every alert it earned and fell to D ...
        runaway = {kind for (kind,) in db.execute(OPEN_ALERT_KINDS, (RUNAWAY_CREDIT_CODE,))}
        assert runaway == {"SALES_SPIKE", "REDEMPTION_ANOMALY", "COMPLAINT_SURGE", "STORE_CLOSURES"}
        grades = [grade for (grade,) in db.execute(GRADES_OVER_TIME, (RUNAWAY_CREDIT_CODE,))]
        assert grades[-1] == "D" and "D" not in grades[:-1], grades
        # ... while the steady chain, grade A, has applied for financing.
        financing = db.execute(FINANCING_OF, (DEMO_CHAIN_CREDIT_CODE,)).fetchall()
        assert financing == [("SUBMITTED", "A")]
        for consumer in ("13800000001", "13800000002"):
            card = db.execute(LAUNDRY_CARD_OF, (consumer, DEMO_CHAIN_CREDIT_CODE)).fetchone()
            assert card == (1,)


def test_the_demo_keeps_no_scoring_or_detection_of_its_own() -> None:
    # Scores and alerts come from services/credit_scores.py and services/risk.py only.
    demo = Path(__file__).resolve().parent.parent / "cli" / "demo"
    source = "\n".join(path.read_text() for path in demo.glob("*.py"))
    for writes_directly in ("CreditScore(", "CreditFactor(", "RiskAlert(", "credit_grade="):
        assert writes_directly not in source, writes_directly


REPORTS = """
SELECT id, source, statement_date, statement_name, difference_count
FROM reconciliation_reports ORDER BY id
"""
DIFFERENCES = """
SELECT reports.source, reports.statement_date, differences.kind, differences.merchant_id,
       differences.ledger_amount_fen, differences.statement_amount_fen, differences.alert_id
FROM reconciliation_differences AS differences
JOIN reconciliation_reports AS reports ON reports.id = differences.report_id
WHERE differences.explanation IS NULL
"""
MISMATCH_ALERTS = """
SELECT id, merchant_id, severity FROM risk_alerts
WHERE kind = 'RECONCILIATION_MISMATCH' AND status IN ('OPEN', 'ACKNOWLEDGED')
"""
CHANNEL_ORDERS = "SELECT out_trade_no, status FROM payment_orders"
CHANNEL_REFUNDS = "SELECT out_refund_no, status FROM channel_refunds"


def test_the_demo_week_of_statements_holds_exactly_the_two_planted_differences(
    demo: Demo,
) -> None:
    assert demo.loaded.returncode == 0, demo.loaded.stderr
    workdir = demo.database.parent
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    week = [today - timedelta(days=days) for days in range(7, 0, -1)]
    assert "statements 14 reconciled in data/statements" in demo.loaded.stdout, demo.loaded.stdout
    assert "2 differences" in demo.loaded.stdout

    with sqlite3.connect(demo.database) as db:
        reports = db.execute(REPORTS).fetchall()
        differences = db.execute(DIFFERENCES).fetchall()
        alerts = db.execute(MISMATCH_ALERTS).fetchall()
        orders = dict(db.execute(CHANNEL_ORDERS).fetchall())
        refunds = dict(db.execute(CHANNEL_REFUNDS).fetchall())

    # 14 reports: each day's channel bill and custody statement, each file on disk.
    assert sorted((source, day) for _, source, day, _, _ in reports) == sorted(
        (source, day.isoformat()) for day in week for source in ("CHANNEL", "BANK")
    )
    for _, _, _, name, _ in reports:
        assert (workdir / "data" / "statements" / name).is_file(), name
    assert sorted(count for *_, count in reports) == [0] * 12 + [1, 1]
    # Exactly the two planted differences, on two merchants, each with its own open alert.
    by_source = {source: rest for source, *rest in differences}
    assert set(by_source) == {"CHANNEL", "BANK"} and len(differences) == 2
    channel_day, kind, channel_merchant, ours, theirs, channel_alert = by_source["CHANNEL"]
    assert kind == "AMOUNT_DIFFERS" and theirs == ours - 1_000
    bank_day, kind, bank_merchant, ours, theirs, bank_alert = by_source["BANK"]
    assert kind == "MISSING_AT_SOURCE" and ours > 0 and theirs is None
    assert channel_merchant != bank_merchant
    assert sorted((merchant, alert) for alert, merchant, _ in alerts) == sorted(
        [(channel_merchant, channel_alert), (bank_merchant, bank_alert)]
    )
    assert dict((merchant, severity) for _, merchant, severity in alerts) == {
        channel_merchant: "HIGH",
        bank_merchant: "MEDIUM",
    }
    # The week's payments were two-step (paid orders) with one refund through the channel, and
    # the simulator's state file (make run's simulator serves it) holds the same payments.
    assert len(orders) == 20 and set(orders.values()) == {"PAID"}
    assert len(refunds) == 2 and set(refunds.values()) == {"SUCCESS"}
    state = json.loads((workdir / "data/wechatpay-test-keys/state.json").read_text())
    assert set(state["orders"]) == set(orders) and set(state["refunds"]) == set(refunds)
    bills = [(workdir / "data/statements" / f"wechat-tradebill-{d}.csv").read_text() for d in week]
    assert sum(bill.count(",`REFUND,") for bill in bills) == 2

    # The statements reconcile again as they did: clean days clean, the planted day not.
    clean_day = next(day for day in week if day.isoformat() not in (channel_day, bank_day))
    clean = anfu(demo.database, "reconcile", "bank", f"data/statements/custody-{clean_day}.mt940")
    planted = anfu(demo.database, "reconcile", "bank", f"data/statements/custody-{bank_day}.mt940")
    bill = f"data/statements/wechat-tradebill-{channel_day}.csv"
    planted_bill = anfu(
        demo.database, "reconcile", "channel", "--date", channel_day, "--file", bill
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 difference(s)" in clean.stdout
    assert planted.returncode == 1, planted.stdout + planted.stderr
    assert "MISSING_AT_SOURCE" in planted.stdout
    assert planted_bill.returncode == 1, planted_bill.stdout + planted_bill.stderr
    assert "AMOUNT_DIFFERS" in planted_bill.stdout
    with sqlite3.connect(demo.database) as db:
        assert len(db.execute(MISMATCH_ALERTS).fetchall()) == 2  # the reruns joined them
