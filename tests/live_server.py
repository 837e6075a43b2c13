"""uvicorn serving the app in a subprocess, for tests that need a real server (Node clients,
the access log): on the session's database and cache, in production mode unless told."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30


@dataclass
class LiveServer:
    url: str  # the GraphQL endpoint
    output: IO[str]
    process: asyncio.subprocess.Process
    # What the server wrote until it stopped, once it has.
    final_log: str | None = None

    async def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, as in a power cut (no shutdown)."""
        self.process.kill()
        await self.process.wait()

    def log(self) -> str:
        """Everything uvicorn and the app wrote so far (all of it once the server stopped)."""
        if self.final_log is not None:
            return self.final_log
        self.output.flush()
        self.output.seek(0)
        return self.output.read()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def live_server(
    database_url: str,
    *,
    access_log: bool = False,
    anfu_serve: tuple[str, ...] | None = None,
    settings: Mapping[str, str] | None = None,
    port: int | None = None,
    **environment: str,
) -> AsyncIterator[LiveServer]:
    """uvicorn on the app; with `anfu_serve` (its extra arguments), `anfu serve` instead, for
    what that command adds (log format, workers, shutdown timeout)."""
    port = port or free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CACHE_URL": os.environ.get("TEST_REDIS_URL") or "memory://",
        "ANFU_ENV": "production",
        "ANFU_JWT_SECRET": secrets.token_urlsafe(48),
        **(settings or {}),
        **environment,
    }
    if anfu_serve is not None:
        anfu = Path(sys.executable).parent / "anfu"
        command = [str(anfu), "serve", "--host", "127.0.0.1", "--port", str(port), *anfu_serve]
    else:
        command = [sys.executable, "-m", "uvicorn", "server:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        if not access_log:
            command.append("--no-access-log")
    with tempfile.TemporaryFile("w+") as output:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=env, stdout=output, stderr=output
        )
        server = LiveServer(f"http://127.0.0.1:{port}/graphql", output, process)
        try:
            await _wait_until_healthy(process, port, server)
            yield server
        finally:
            if process.returncode is None:
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
            server.final_log = server.log()


async def _wait_until_healthy(
    process: asyncio.subprocess.Process, port: int, server: LiveServer
) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=1) as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{server.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    pytest.fail(f"the server did not answer within {STARTUP_SECONDS} s:\n{server.log()}")
