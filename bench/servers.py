"""Databases with the demo and the server processes `make bench` measures.

The SQLite demo is kept in `.bench/` (built once, about two minutes); the PostgreSQL one in
its own database, `anfu_bench` by default. Servers run in production mode with rate limits
raised out of the way, each on a free port; CPU time is read from /proc for a process and
every process under it (uvicorn's workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench"
ANFU = Path(sys.executable).parent / "anfu"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _anfu(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [str(ANFU), *args], env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"anfu {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def sqlite_demo() -> str:
    """A SQLite file with the demo, loaded the first time."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / "demo.sqlite3"
    url = f"sqlite://{path}"
    if not path.exists():
        print(f"loading the demo into {path} (once, about two minutes)", flush=True)
        partial = CACHE / "loading.sqlite3"
        partial.unlink(missing_ok=True)
        _anfu(f"sqlite://{partial}", "migrate")
        _anfu(f"sqlite://{partial}", "seed-demo")
        partial.rename(path)
    return url


def postgres_demo(url: str) -> str | None:
    """The PostgreSQL database with the demo, created and loaded the first time; None when
    PostgreSQL does not answer."""
    import asyncpg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))

    async def prepare() -> bool:
        try:
            connection = await asyncpg.connect(admin, timeout=5)
        except (OSError, asyncpg.PostgresError):
            return False
        try:
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return True

    if not asyncio.run(prepare()):
        return None
    _anfu(url, "migrate")
    if "already" not in _anfu(url, "seed-demo"):
        print(f"loaded the demo into {url}", flush=True)
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base: str

    def cpu_seconds(self) -> float:
        """User and system time of the server and every process under it, so far."""
        return sum(_cpu_ticks(pid) for pid in tree(self.process.pid)) / CLOCK_TICKS


def tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise RuntimeError(f"the server at {url} did not start")


@contextlib.contextmanager
def anfu_server(
    database_url: str, workers: int, secret: str | None = None, public_cache: bool = True
) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ANFU_ENV": "production",
        "ANFU_DEMO": "1",  # purchases through the sandbox channel
        "ANFU_JWT_SECRET": secret or secrets.token_urlsafe(48),
        "ANFU_LOG_LEVEL": "WARNING",  # no access log line per request
        "REQUESTS_PER_ADDRESS": "1000000000",
        "REQUESTS_PER_USER": "1000000000",
        "REDEMPTION_CODES_PER_USER": "1000000000",
        "REGISTRATIONS_PER_ADDRESS": "1000000000",
    }
    if not public_cache:
        env["PUBLIC_CACHE_ENTRIES"] = "0"
    if workers > 1:
        # Several processes share their cache (anfu serve refuses the in-process one).
        env["CACHE_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
    command = [str(ANFU), "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/healthz", process)
        yield Server(f"Anfu ×{workers}" + ("" if public_cache else " nc"), process, base)
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def floor_server(database_url: str, secret: str) -> Iterator[Server]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "bench.floor:app", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": database_url, "ANFU_JWT_SECRET": secret}
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/healthz", process)
        yield Server("floor", process, base)
    finally:
        process.terminate()
        process.wait(timeout=30)
