"""Real clients against a real server: the Python `gql` client as a regulator tool (schema by
introspection, typed query) and Apollo Client in Node with its persisted-queries link.

Each test starts uvicorn in a subprocess on a free port, on the session's database and cache,
in production mode. Marked `once`: `make test` runs them in its SQLite pass only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from gql import Client
from gql.dsl import DSLQuery, DSLSchema, dsl_gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.utilities import update_schema_scalars
from graphql import GraphQLScalarType

from models.enums import Role
from services.persisted import PROJECT_CLIENTS, canonical, document_hash
from tests.live_server import live_server
from tests.support import PASSWORD, make_merchant, make_user

pytestmark = pytest.mark.once

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / "tests" / "node"
APOLLO_SCRIPT = NODE_DIR / "apollo-apq.mjs"
REGULATOR_LOGIN = PROJECT_CLIENTS / "regulator-tools" / "login.graphql"

# The API's scalars as Python values: gql parses results and serializes variables with them.
MONEY = GraphQLScalarType("Money", serialize=str, parse_value=Decimal)
DATE = GraphQLScalarType("Date", serialize=dt.date.isoformat, parse_value=dt.date.fromisoformat)
DATETIME = GraphQLScalarType(
    "DateTime", serialize=dt.datetime.isoformat, parse_value=dt.datetime.fromisoformat
)


def node_or_skip() -> str:
    """The node binary with tests/node installed; missing is a failure where the tests must
    run (ANFU_ONCE_TESTS=run, as `make test` sets it), else a skip."""
    node = shutil.which("node")
    if node and (NODE_DIR / "node_modules" / "@apollo" / "client").is_dir():
        return node
    missing = "node" if not node else "tests/node/node_modules (npm ci --prefix tests/node)"
    if os.environ.get("ANFU_ONCE_TESTS") == "run":
        pytest.fail(f"{missing} is needed for the Apollo Client test")
    pytest.skip(f"{missing} is missing")


async def sign_in(url: str, phone: str) -> str:
    """A regulator tool signs in with the manifest's Login (anonymous callers run only trusted
    documents in allowlist mode) and gets an access token."""
    document_id = f"sha256:{document_hash(canonical(REGULATOR_LOGIN.read_text()))}"
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            url,
            json={"documentId": document_id, "variables": {"phone": phone, "password": PASSWORD}},
        )
    body = response.json()
    assert not body.get("errors"), body
    return str(body["data"]["login"]["accessToken"])


async def test_gql_builds_its_schema_by_introspection_as_a_regulator_and_runs_a_typed_query(
    database,
):
    # Given a regulator, a merchant, and a production server that runs only trusted documents
    world = await make_merchant(name=f"gql洗衣 {uuid.uuid4().hex[:6]}")
    regulator = await make_user(Role.REGULATOR)
    async with live_server(database, ANFU_PERSISTED="allowlist") as server:
        url = server.url
        token = await sign_in(url, regulator.phone)
        transport = HTTPXAsyncTransport(url, headers={"authorization": f"Bearer {token}"})
        client = Client(
            transport=transport,
            fetch_schema_from_transport=True,
            parse_results=True,
            serialize_variables=True,
        )

        # When gql introspects the schema and runs a query built from it
        async with client as session:
            assert client.schema is not None
            update_schema_scalars(client.schema, [MONEY, DATE, DATETIME])
            api = DSLSchema(client.schema)
            query = dsl_gql(
                DSLQuery(
                    api.Query.merchants(filter={"search": world.merchant.name}, first=5).select(
                        api.MerchantConnection.totalCount,
                        api.MerchantConnection.edges.select(
                            api.MerchantEdge.node.select(
                                api.Merchant.name,
                                api.Merchant.status,
                                api.Merchant.createdAt,
                                api.Merchant.escrow.select(
                                    api.EscrowAccount.held,
                                    api.EscrowAccount.custodyRatio,
                                ),
                            )
                        ),
                    ),
                    api.Query.supervisionStats(
                        **{"from": dt.date.today() - dt.timedelta(days=6), "to": dt.date.today()}
                    ).select(
                        api.SupervisionStats.escrowHeld,
                        api.SupervisionStats.activeCards,
                        api.SupervisionStats.daily.select(api.DailyFlow.date, api.DailyFlow.sales),
                    ),
                )
            )
            result = await session.execute(query)

        # And the same query without the regulator's token is not a trusted document
        anonymous = Client(transport=HTTPXAsyncTransport(url), schema=client.schema)
        async with anonymous as session:
            with pytest.raises(TransportQueryError) as refused:
                await session.execute(query)

    # Then the answer comes back typed by the introspected schema and the scalars
    merchant = result["merchants"]["edges"][0]["node"]
    assert result["merchants"]["totalCount"] == 1
    assert merchant["name"] == world.merchant.name
    assert merchant["status"] == "ACTIVE"
    assert isinstance(merchant["createdAt"], dt.datetime) and merchant["createdAt"].tzinfo
    assert merchant["escrow"] == {"held": Decimal("0.00"), "custodyRatio": 1.0}
    stats = result["supervisionStats"]
    assert isinstance(stats["escrowHeld"], Decimal)
    assert [day["date"] for day in stats["daily"]][-1] == dt.date.today()
    assert all(isinstance(day["sales"], Decimal) for day in stats["daily"])
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_apollo_client_sends_hashes_over_get_recovers_from_not_found_and_gets_data(
    database,
):
    node = node_or_skip()
    # Given a merchant and a production server in the default (open) mode
    world = await make_merchant(name=f"Apollo洗衣 {uuid.uuid4().hex[:6]}")
    suffix = uuid.uuid4().hex[:12]
    async with live_server(database) as server:
        url = server.url
        # When Apollo Client asks twice, from two clients, for a document new to the server
        script = await asyncio.create_subprocess_exec(
            node,
            str(APOLLO_SCRIPT),
            url,
            suffix,
            world.merchant.name,
            cwd=NODE_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(script.communicate(), 60)
    assert script.returncode == 0, (stdout + stderr).decode()
    report = json.loads(stdout)
    exchanges = report["exchanges"]

    # Then the first sent the hash alone over GET, was told PersistedQueryNotFound (200),
    # and sent the document with its hash
    assert exchanges[: report["firstExchanges"]] == [
        {
            "method": "GET",
            "sentQuery": False,
            "sentHash": True,
            "status": 200,
            "errors": ["PERSISTED_QUERY_NOT_FOUND"],
        },
        {"method": "POST", "sentQuery": True, "sentHash": True, "status": 200, "errors": []},
    ]
    # And the second got its answer from the hash alone, over GET
    assert exchanges[report["firstExchanges"] :] == [
        {"method": "GET", "sentQuery": False, "sentHash": True, "status": 200, "errors": []}
    ]
    # And both got the data
    assert report["first"]["error"] is None
    assert report["first"]["data"] == report["second"]["data"]
    merchants = report["first"]["data"]["merchants"]
    assert [edge["node"]["name"] for edge in merchants["edges"]] == [world.merchant.name]
    assert report["first"]["data"][f"apq_{suffix}"]
