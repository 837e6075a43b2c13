"""Running the real `anfu` command against a SQLite file of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ANFU = Path(sys.executable).parent / "anfu"
PROJECT = Path(__file__).resolve().parent.parent


def environment(database: Path) -> dict[str, str]:
    """This process's environment on `database`, without the suite's shared services."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env.pop("CACHE_URL", None)
    env["DATABASE_URL"] = f"sqlite://{database}"
    return env


def run(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANFU), *args],
        env=environment(database),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
