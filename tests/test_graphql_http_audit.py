"""The graphql-http audit (npm `graphql-http`, `auditServer`) of the GraphQL-over-HTTP spec
against a real uvicorn in production mode: no errors and no warnings. A few audits ask
`__type(name:)`, which production answers to regulators only, so the audit signs in as one.

Marked `once`: `make test` runs it in its SQLite pass, after `npm ci` of tests/node."""

from __future__ import annotations

import asyncio
import json
import os
import shutil

import httpx
import pytest

from models.enums import Role
from tests.live_server import REPO, live_server
from tests.support import PASSWORD, make_user

pytestmark = pytest.mark.once

NODE_DIR = REPO / "tests" / "node"
AUDIT_SCRIPT = NODE_DIR / "audit.mjs"


def node() -> str:
    """node with tests/node installed; missing is a failure where `make test` runs this."""
    binary = shutil.which("node")
    if binary and (NODE_DIR / "node_modules" / "graphql-http").is_dir():
        return binary
    missing = "node" if not binary else "tests/node/node_modules (make test runs npm ci)"
    if os.environ.get("ANFU_ONCE_TESTS") == "run":
        pytest.fail(f"{missing} is needed for the graphql-http audit")
    pytest.skip(f"{missing} is missing")


LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { accessToken }
}
"""


async def test_the_graphql_http_audit_finds_no_error_and_no_warning(database):
    binary = node()
    regulator = await make_user(Role.REGULATOR)
    async with live_server(database) as server:
        async with httpx.AsyncClient(timeout=10) as http:
            variables = {"phone": regulator.phone, "password": PASSWORD}
            signed_in = await http.post(server.url, json={"query": LOGIN, "variables": variables})
        token = signed_in.json()["data"]["login"]["accessToken"]
        audit = await asyncio.create_subprocess_exec(
            binary,
            str(AUDIT_SCRIPT),
            server.url,
            token,
            cwd=NODE_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(audit.communicate(), 120)
    assert audit.returncode == 0, (stdout + stderr).decode()
    results = json.loads(stdout)

    assert len(results) > 40
    failing = [r for r in results if r["status"] in ("error", "warn")]
    assert failing == []
    # What is left are MAYs the server may decline; today there are none.
    assert {r["status"] for r in results} == {"ok"}
