"""One wrk run (Debian's `wrk`): POST a JSON body with a token for some seconds, and what it
measured: requests per second, p50 and p99, and the server's CPU time per request."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.servers import Server

SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    cpu_ms_per_request: float


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    server: Server,
    path: str,
    body: bytes,
    token: str | None,
    seconds: float,
    connections: int = 16,
) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        body_file = Path(scratch) / "body.json"
        body_file.write_bytes(body)
        script = Path(scratch) / "post.lua"
        script.write_text(SCRIPT)
        cpu_before = server.cpu_seconds()
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--latency",
                "-s",
                str(script),
                f"{server.base}{path}",
            ],
            env={"BENCH_BODY": str(body_file), "BENCH_TOKEN": token or ""},
            capture_output=True,
            text=True,
            check=True,
        )
        cpu = server.cpu_seconds() - cpu_before
    return parse(done.stdout, cpu)


def parse(output: str, cpu_seconds: float) -> Run:
    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if found is None:
            raise ValueError(f"wrk printed no {percent}% latency:\n{output}")
        return float(found.group(1)) * _UNITS[found.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise ValueError(f"wrk printed no rate:\n{output}")
    failures = sum(
        int(count)
        for count in re.findall(
            r"(?:Non-2xx or 3xx responses|Socket errors:.*?timeout)\D*(\d+)", output
        )
    )
    requests = int(total.group(1))
    return Run(
        requests_per_second=float(rate.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=requests,
        failures=failures,
        cpu_ms_per_request=cpu_seconds * 1000 / requests if requests else float("nan"),
    )
