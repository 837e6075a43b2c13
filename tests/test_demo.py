"""The demo data loads through the real CLI into a fresh database, once, and the ledger holds;
it shows its progress per phase on stderr and ends with a short summary on stdout.

The suite shares one database per session, so this test migrates its own SQLite file and
runs `anfu` in subprocesses against it, then reads the file with the stdlib sqlite3 module.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

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
        if name not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")
    }
    env["DATABASE_URL"] = f"sqlite://{database}"
    return subprocess.run(
        [str(ANFU), *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_seed_demo_loads_once_and_the_ledger_verifies(tmp_path: Path) -> None:
    database = tmp_path / "demo.sqlite3"

    migrated = anfu(database, "migrate")
    loaded = anfu(database, "seed-demo")
    again = anfu(database, "seed-demo")
    verified = anfu(database, "ledger", "verify")

    assert migrated.returncode == 0, migrated.stderr
    assert loaded.returncode == 0, loaded.stderr
    assert "1550 purchases" in loaded.stdout, loaded.stdout
    summary = loaded.stdout.splitlines()
    assert summary[0].startswith("Loaded the Huai'an demo in ") and summary[0].endswith(" s:")
    assert len(summary) <= 10 and max(map(len, summary)) <= 100, loaded.stdout
    labels = [line.split()[0] for line in summary[1:]]
    assert {"merchants", "stores", "consumers", "transfers"} <= set(labels), loaded.stdout
    assert "holding 1550 cards" in loaded.stdout
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
