"""Migrations move a database that already holds rows, keeping every row and every reference.

Like tests/test_demo.py this migrates its own SQLite file in subprocesses (the suite's
Tortoise is bound to the session database) and reads it with the stdlib sqlite3 module.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REJECTED_CODE = "91320800MA1XYW12K1"
ACTIVE_CODE = "91320800MA1XYW13K2"
INSERT_MERCHANT = """
INSERT INTO merchants (id, name, credit_code, legal_representative, category_id, contact_phone,
    status, registry_verified, registry_findings, custody_ratio_bp, created_at)
VALUES (?, '老街干洗店', ?, '钱老', 'LAUNDRY', '13912340002', ?, 0, '[]', 10000,
    '2026-01-05 08:00:00+00:00')
"""
INSERT_STORE = """
INSERT INTO stores (merchant_id, name, address, district, status, created_at)
VALUES (?, '老街干洗店', '河下古镇12号', '淮安区', 'OPEN', '2026-01-05 08:00:00+00:00')
"""
INSERT_OWNER = """
INSERT INTO users (role, phone, password_hash, display_name, merchant_id, is_merchant_owner,
    is_active, created_at)
VALUES ('MERCHANT', ?, 'x', '钱老', ?, 1, 1, '2026-01-05 08:00:00+00:00')
"""
MERCHANT_INDEXES = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'merchants'"


def run(database: Path, *command: str) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")
    }
    env["DATABASE_URL"] = f"sqlite://{database}"
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@contextlib.contextmanager
def connect(database: Path) -> Iterator[sqlite3.Connection]:
    """Autocommit, with foreign keys checked as the server checks them."""
    db = sqlite3.connect(database, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        yield db
    finally:
        db.close()


def test_a_rejected_merchants_credit_code_is_released_in_a_database_with_rows(tmp_path):
    # Given a database before credit codes were unique only among merchants not REJECTED,
    # with a rejected and an active merchant, a store and an owner that refer to them
    database = tmp_path / "anfu.sqlite3"
    run(database, "tortoise", "migrate", "anfu", "0002_categories")
    with connect(database) as db:
        db.execute(INSERT_MERCHANT, (5, REJECTED_CODE, "REJECTED"))
        db.execute(INSERT_MERCHANT, (9, ACTIVE_CODE, "ACTIVE"))
        db.execute(INSERT_STORE, (5,))
        db.execute(INSERT_OWNER, ("13912340002", 9))
        indexes_before = {row[0] for row in db.execute(MERCHANT_INDEXES)}

    # When the database is migrated
    run(database, "anfu", "migrate")

    with connect(database) as db:
        # Then every row, reference, index and id counter is still there
        assert db.execute("SELECT id, status FROM merchants ORDER BY id").fetchall() == [
            (5, "REJECTED"),
            (9, "ACTIVE"),
        ]
        assert db.execute("SELECT merchant_id FROM stores").fetchall() == [(5,)]
        assert db.execute("SELECT merchant_id FROM users").fetchall() == [(9,)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(INSERT_STORE, (404,))
        indexes_after = {row[0] for row in db.execute(MERCHANT_INDEXES)}
        assert indexes_after == (indexes_before - {"sqlite_autoindex_merchants_1"}) | {
            "merchant_credit_code_unless_rejected"
        }
        sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'merchants'")
        assert sequence.fetchone() == (9,)

        # And the rejected merchant's credit code takes a new application, once
        db.execute(INSERT_MERCHANT, (10, REJECTED_CODE, "PENDING_REVIEW"))
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(INSERT_MERCHANT, (11, REJECTED_CODE, "PENDING_REVIEW"))
        # While the active merchant's takes none
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(INSERT_MERCHANT, (12, ACTIVE_CODE, "PENDING_REVIEW"))
