"""`anfu credit recompute` and `anfu credit report` as an operator runs them: subprocesses
against their own SQLite database, filled through the services."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_support import PROJECT, environment, run

# Two merchants with cards: one with a clean registry record, one on the abnormal list that
# keeps 60 % in custody. Prints their ids and the listed one's credit code.
POPULATE = textwrap.dedent(
    """
    import asyncio
    import datetime as dt

    from tortoise import Tortoise

    from models import RegistryRecord
    from settings import get_settings
    from tests.support import buy_card, make_merchant, make_user, redeem_fen


    async def record(world, listed):
        await RegistryRecord.create(
            credit_code=world.merchant.credit_code,
            name=world.merchant.name,
            legal_representative="王五",
            registered_capital_fen=50_000_000,
            established_on=dt.date.today() - dt.timedelta(days=3 * 365),
            registration_status="存续",
            on_abnormal_list=listed,
        )


    async def main() -> None:
        await Tortoise.init(config=get_settings().tortoise_config(), _enable_global_fallback=True)
        try:
            clean = await make_merchant(name="清白洗衣")
            listed = await make_merchant(name="异常洗衣", custody_ratio_bp=6_000)
            await record(clean, False)
            await record(listed, True)
            for world in (clean, listed):
                consumer = await make_user()
                card = (await buy_card(consumer, world)).card
                await redeem_fen(world, card.id, consumer, 10_000)
            print(clean.merchant.id, listed.merchant.id, listed.merchant.credit_code)
        finally:
            await Tortoise.close_connections()


    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int, str]:
    database = tmp_path_factory.mktemp("credit-cli") / "anfu.sqlite3"
    migrated = run(database, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    result = subprocess.run(
        [sys.executable, "-c", POPULATE],
        env=environment(database),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    clean_id, listed_id, listed_code = result.stdout.split()
    return database, int(clean_id), int(listed_id), listed_code


@pytest.fixture
def database(populated: tuple[Path, int, int, str], tmp_path: Path) -> Path:
    """A copy of the populated database for this test alone."""
    copy = tmp_path / "anfu.sqlite3"
    shutil.copy(populated[0], copy)
    return copy


def test_recompute_scores_every_merchant_with_a_progress_bar_and_keeps_the_ledger(database):

    # Before any score, the report says no merchant is scored
    before = run(database, "credit", "report")
    assert before.returncode == 0, before.stderr
    assert "unscored           2" in before.stdout

    # When the operator recomputes every score
    result = run(database, "credit", "recompute")

    # Then both merchants are scored, the progress bar went to stderr, and the distribution
    # shows the listed merchant at D
    assert result.returncode == 0, result.stderr
    assert "scored 2 merchant(s)" in result.stdout
    assert "2/2" in result.stderr and "credit" in result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[2:7]] == [
        ["A", "0"],
        ["B", "1"],
        ["C", "0"],
        ["D", "1"],
        ["unscored", "0"],
    ]
    # And the listed merchant's forced custody went through the ledger, which still verifies
    verified = run(database, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ledger OK" in verified.stdout


def test_report_shows_one_merchants_factors(populated, database):
    _source, _clean_id, listed_id, listed_code = populated
    run(database, "credit", "recompute")

    for wanted in (str(listed_id), listed_code, "异常洗衣"):
        result = run(database, "credit", "report", wanted)

        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"异常洗衣 (merchant {listed_id}, {listed_code}, ACTIVE)")
        assert ", grade D, model anfu-credit-1" in result.stdout
        assert "Abnormal-operations list" in result.stdout
        assert "Registry hard negative" in result.stdout
        assert "total                                       599  1000" in result.stdout


def test_report_names_a_merchant_it_cannot_find(database):

    result = run(database, "credit", "report", "没有这家")

    assert result.returncode == 2
    assert "no merchant with id, credit code or name '没有这家'" in result.stderr
