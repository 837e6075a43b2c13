"""Commands that cannot start say why in one line and exit 2: a database that does not open
(named, its password masked) or settings that are refused (never echoing the secret)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.environment import CANNOT_START, shown_database
from services.registry_files import REQUIRED_COLUMNS
from settings import MIN_JWT_SECRET_BYTES

ANFU = Path(sys.executable).parent / "anfu"
WEAK_SECRET = "Qz7-leaky-Wv9"
NEEDS_SECRET = "error: ANFU_JWT_SECRET must be set to at least 32 bytes when ANFU_ENV=production"
# Nothing listens on port 1: the connection is refused at once.
UNREACHABLE_POSTGRES = "postgres://anfu:Pa55-w0rd@127.0.0.1:1/anfu"

# Every command that opens the database, with arguments that would otherwise be accepted.
DATABASE_COMMANDS = {
    "serve": ["serve", "--port", "8799"],
    "seed-demo": ["seed-demo"],
    "create-regulator": [
        *("create-regulator", "--phone", "13700000099"),
        *("--password", "regulator-1", "--name", "淮安市市场监管局 测试"),
    ],
    "import-registry": ["import-registry", "registry.csv"],
    "ledger verify": ["ledger", "verify"],
    "complaints sweep": ["complaints", "sweep"],
    "risk sweep": ["risk", "sweep"],
}


def anfu(directory: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`anfu` run in `directory` with the shell's Anfu settings cleared, then `env` set."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TEST_", "ANFU_", "DATABASE_", "CACHE_"))
    }
    return subprocess.run(
        [str(ANFU), *args],
        cwd=directory,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == CANNOT_START, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.strip()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the repository (no data/), with a registry file in it."""
    (tmp_path / "registry.csv").write_text(",".join(REQUIRED_COLUMNS) + "\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("command", DATABASE_COMMANDS.values(), ids=DATABASE_COMMANDS.keys())
def test_a_missing_sqlite_database_is_named_by_every_command(outside, command):
    # Given no DATABASE_URL, in a directory without ./data/anfu.sqlite3

    result = anfu(outside, *command)

    line = assert_one_line_error(result)
    assert line == (
        "error: cannot open the database sqlite://./data/anfu.sqlite3 "
        f"({outside.resolve()}/data/anfu.sqlite3): "
        "the file does not exist (run `anfu migrate` or set DATABASE_URL)"
    )
    assert not (outside / "data").exists()


@pytest.mark.parametrize("command", [["migrate"], ["ledger", "verify"]], ids=" ".join)
def test_an_unreachable_database_is_named_without_its_password(outside, command):
    result = anfu(outside, *command, DATABASE_URL=UNREACHABLE_POSTGRES)

    line = assert_one_line_error(result)
    assert line.startswith(
        "error: cannot open the database postgres://anfu:***@127.0.0.1:1/anfu: "
    ), line
    assert "Pa55-w0rd" not in result.stdout + result.stderr


def test_migrate_creates_the_sqlite_file_and_its_directory(outside):
    result = anfu(outside, "migrate")

    assert result.returncode == 0, result.stderr
    assert (outside / "data" / "anfu.sqlite3").is_file()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgres://anfu:secret@db:5432/anfu?maxsize=5",
            "postgres://anfu:***@db:5432/anfu?maxsize=5",
        ),
        ("postgres://anfu@db/anfu?password=secret", "postgres://anfu@db/anfu?password=%2A%2A%2A"),
        ("postgres://db/anfu", "postgres://db/anfu"),
        ("sqlite:///srv/anfu.sqlite3", "sqlite:///srv/anfu.sqlite3 (/srv/anfu.sqlite3)"),
    ],
)
def test_database_urls_are_shown_without_passwords(url, shown):
    assert shown_database(url) == shown


# Settings refused in production: one line, no traceback, nothing of the secret.


@pytest.mark.parametrize("secret", [None, WEAK_SECRET], ids=["missing", "weak"])
@pytest.mark.parametrize(
    "command", [["serve", "--port", "8799"], ["ledger", "verify"]], ids=" ".join
)
def test_production_without_a_good_secret_says_what_is_needed(outside, command, secret):
    env = {"ANFU_ENV": "production"}
    if secret is not None:
        env["ANFU_JWT_SECRET"] = secret

    result = anfu(outside, *command, **env)

    assert assert_one_line_error(result) == NEEDS_SECRET
    assert result.stdout == ""
    output = result.stdout + result.stderr
    for start in range(len(WEAK_SECRET) - 3):
        assert WEAK_SECRET[start : start + 4] not in output


def test_every_refused_setting_is_named_in_the_one_line(outside):
    result = anfu(outside, "ledger", "verify", ANFU_ENV="staging", PORT="eighty")

    line = assert_one_line_error(result)
    assert "PORT: Input should be a valid integer" in line
    assert "ANFU_ENV: Input should be 'development' or 'production'" in line
    assert "eighty" not in line and "staging" not in line


def test_production_refuses_the_sandbox_payment_channel_unless_a_demo(outside):
    env = {"ANFU_ENV": "production", "ANFU_JWT_SECRET": "s" * MIN_JWT_SECRET_BYTES}

    result = anfu(outside, "serve", "--port", "8799", **env)

    line = assert_one_line_error(result)
    assert "ANFU_PAYMENT_CHANNEL=sandbox approves every payment" in line
    assert "ANFU_DEMO=1" in line
