"""Compiled plans (plans/) answer exactly as the general executor does.

Every document of the clients' manifest is sent by every role, with its defaults and (where it
takes them) unusual and usual `first`, `after` and `status` values, once to a server with plans
and once to one without; status, content type and body bytes must be equal. The test also pins
which (operation, caller kind) pairs were answered from a plan, so a planner that silently
plans nothing fails it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from core import clock
from models import Card, CardProduct, Merchant, Store
from models.enums import CardProductStatus, CardStatus, MerchantStatus, Role, StoreStatus
from plans import Planner
from server import create_app
from services.pagination import encode_cursor
from services.persisted import PROJECT_MANIFEST, document_hash, load_manifest
from settings import Settings
from tests.support import buy_card, make_merchant, make_staff, make_user, token_for

MANIFEST = load_manifest(PROJECT_MANIFEST)
# Answered from a plan: the home page and the merchant list for the public, the wallet.
PLANNED = {
    ("HomeMerchants", "anonymous"),
    ("HomeMerchants", "consumer"),
    ("BrowseMerchants", "anonymous"),
    ("BrowseMerchants", "consumer"),
    ("Wallet", "consumer"),
}
GRAPHQL_RESPONSE = "application/graphql-response+json"
# Beyond the manifest: aliases, fragments, __typename and page info, kept by APQ.
APQ_DOCUMENT = """
query Shop($n: Int = 2, $after: String, $s: CardProductStatus) {
  __typename
  list: merchants(first: $n, after: $after, filter: null) {
    __typename totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ...M id status } }
  }
}
fragment M on Merchant {
  __typename id name
  creditRating { __typename grade score }
  category { __typename code name }
  shops: stores(first: 1, after: "b2Zmc2V0OjA=") {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name address district phone status __typename } }
  }
  cardProducts(status: $s, first: 1) {
    totalCount edges { node { ... on CardProduct { id name description price faceValue
      validityDays allStores status soldCount } } }
  }
}
"""


def _planner(app: Starlette) -> Planner:
    for route in app.routes:
        if getattr(route, "path", None) == "/graphql":
            planner = route.endpoint.planner  # type: ignore[attr-defined]
            assert planner is not None
            return planner
    raise AssertionError("no /graphql route")


@pytest.fixture
async def servers(database: str, settings: Settings) -> AsyncIterator[tuple[Any, Any, Planner]]:
    """(with plans, without plans, the first's planner), both on the suite's database."""
    with_plans = create_app(settings, manage_database=False)
    without = create_app(settings.model_copy(update={"plans": "off"}), manage_database=False)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=with_plans), base_url="http://a") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=without), base_url="http://b") as b,
    ):
        yield a, b, _planner(with_plans)


async def _world() -> dict[str, str | None]:
    """Merchants in every status, stores and products in several, cards live, expired, frozen;
    returns a token per role (None: anonymous)."""
    rated = await make_merchant(stores=12, all_stores=False)
    await Merchant.filter(id=rated.merchant.id).update(credit_grade="B", credit_score=720)
    await Store.filter(id=rated.stores[1].id).update(status=StoreStatus.CLOSED)
    for status in (CardProductStatus.SUSPENDED, CardProductStatus.RETIRED, None):
        await CardProduct.create(
            merchant_id=rated.merchant.id,
            name=f"卡 {status}",
            description="",
            price_fen=9_000,
            face_value_fen=10_000,
            validity_days=30,
            status=status or CardProductStatus.ACTIVE,
        )
    unrated = await make_merchant(stores=1)
    await Merchant.filter(id=unrated.merchant.id).update(credit_grade="A", credit_score=None)
    later_suspended = await make_merchant()
    await make_merchant(status=MerchantStatus.PENDING_REVIEW)
    consumer = await make_user()
    cards = [await buy_card(consumer, world) for world in (rated, rated, unrated, later_suspended)]
    past = clock.now() - dt.timedelta(days=1)
    await Card.filter(id=cards[0].card.id).update(expires_at=past)
    await Card.filter(id=cards[1].card.id).update(status=CardStatus.FROZEN)
    await Merchant.filter(id=later_suspended.merchant.id).update(status=MerchantStatus.SUSPENDED)
    staff = await make_staff(rated, rated.stores[0])
    return {
        "anonymous": None,
        "consumer": token_for(consumer),
        "owner": token_for(rated.owner),
        "staff": token_for(staff),
        "regulator": token_for(await make_user(Role.REGULATOR)),
    }


def _variable_sets(document: str) -> list[dict[str, Any] | None]:
    sets: list[dict[str, Any] | None] = [None, {}, {"undeclared": 1}]
    if "$first" in document:
        sets += [{"first": n} for n in (1, 20, 100, 0, -1, 101, None, "1", 2.0, True)]
    if "$after" in document:
        sets += [{"after": a} for a in ("bogus", encode_cursor(0), encode_cursor(10**12), 5, None)]
        sets.append({"first": 1, "after": encode_cursor(1)})
    if "$status" in document:
        sets += [{"status": s} for s in ("ACTIVE", "EXPIRED", "FROZEN", "REFUNDED", "BOGUS", 1)]
        sets.append({"status": "ACTIVE", "first": 1, "after": encode_cursor(0)})
    if "$filter" in document:
        sets += [{"filter": None}, {"filter": {"status": "ACTIVE"}}]
    return sets


async def _both(
    servers: tuple[Any, Any, Planner],
    token: str | None,
    body: dict[str, Any],
    accept: str | None = None,
    method: str = "POST",
) -> bytes:
    """The answer from both servers, asserted equal in status, content type and bytes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    answers = []
    for http in servers[:2]:
        if method == "GET":
            params = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()}
            response = await http.get("/graphql", params=params, headers=headers)
        else:
            response = await http.post("/graphql", json=body, headers=headers)
        answers.append((response.status_code, sorted(response.headers.items()), response.content))
    assert answers[0] == answers[1], (body, answers[0][2][:400], answers[1][2][:400])
    return answers[0][2]


async def test_every_client_document_answers_alike_with_and_without_plans(
    servers: tuple[Any, Any, Planner],
) -> None:
    tokens = await _world()
    planner = servers[2]
    for trusted in MANIFEST.documents.values():
        document = trusted.document
        if trusted.operation_type != "query":
            for kind in ("anonymous", "consumer"):
                assert planner._compiled(document, trusted.operation_name, kind, True) is None
            continue
        plannable = any(
            planner._compiled(document, trusted.operation_name, kind, True) is not None
            for kind in ("anonymous", "consumer")
        )
        sets = _variable_sets(document) if plannable else [{}]
        for token in tokens.values():
            for index, variables in enumerate(sets):
                body: dict[str, Any] = {"query": document}
                if variables is not None:
                    body["variables"] = variables
                await _both(servers, token, body, GRAPHQL_RESPONSE if index % 2 else None)
            if plannable:
                # Named by hash instead of sent: documentId, and APQ over GET.
                by_id = {"documentId": f"sha256:{trusted.hash}", "variables": {"first": 2}}
                await _both(servers, token, by_id)
                apq = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": trusted.hash}}}
                await _both(servers, token, {**apq, "variables": {"first": 3}}, method="GET")
                # A page after the cursor a first page gave.
                first_page = json.loads(await _both(servers, token, {**by_id}))
                cursor = _an_end_cursor(first_page)
                if cursor is not None and "$after" in document:
                    await _both(
                        servers, token, {**by_id, "variables": {"first": 1, "after": cursor}}
                    )
    assert planner.planned == PLANNED


def _an_end_cursor(answer: dict[str, Any]) -> str | None:
    for value in (answer.get("data") or {}).values():
        cards = value.get("cards") if isinstance(value, dict) else None
        page_info = (cards or value or {}).get("pageInfo") if isinstance(value, dict) else None
        if page_info and page_info.get("endCursor"):
            return str(page_info["endCursor"])
    return None


async def test_a_stored_apq_document_with_aliases_and_fragments_is_planned_alike(
    servers: tuple[Any, Any, Planner],
) -> None:
    tokens = await _world()
    hash_ = document_hash(APQ_DOCUMENT)
    apq = {"persistedQuery": {"version": 1, "sha256Hash": hash_}}
    # Registered on both servers (a document sent with its hash is kept once it validates).
    for http in servers[:2]:
        response = await http.post("/graphql", json={"query": APQ_DOCUMENT, "extensions": apq})
        assert "errors" not in response.json()
    for token in (tokens["anonymous"], tokens["consumer"], tokens["regulator"]):
        for variables in ({}, {"n": 5, "s": "RETIRED"}, {"after": encode_cursor(0)}, {"n": -1}):
            await _both(servers, token, {"extensions": apq, "variables": variables})
    assert servers[2].planned == {("Shop", "anonymous"), ("Shop", "consumer")}


async def test_the_planned_home_page_costs_the_same_statements_for_any_page_size(
    database: str, settings: Settings, count_sql: Any
) -> None:
    await _world()
    roomy = settings.model_copy(update={"max_cost": 1_000_000, "heavy_cost": 1_000_000})
    app = create_app(roomy, manage_database=False)
    home = MANIFEST.documents[
        next(h for h, d in MANIFEST.documents.items() if d.operation_name == "HomeMerchants")
    ]
    counts = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as a:
        for first in (1, 100):
            count_sql.statements.clear()
            body = {"documentId": f"sha256:{home.hash}", "variables": {"first": first}}
            response = await a.post("/graphql", json=body)
            assert "errors" not in response.json()
            counts.append(len(count_sql.statements))
    assert _planner(app).planned == {("HomeMerchants", "anonymous")}
    # The merchants with their total, their stores, their products.
    assert counts == [3, 3]


async def test_a_planned_request_is_counted_under_its_operation_name(servers):
    from prometheus_client import REGISTRY

    with_plans, _without, planner = servers
    trusted = next(
        document
        for document in MANIFEST.documents.values()
        if document.operation_name == "BrowseMerchants"
    )
    labels = {"operation": "BrowseMerchants", "outcome": "ok"}
    before = REGISTRY.get_sample_value("anfu_graphql_requests_total", labels) or 0
    # Sent by documentId only: the name comes from the plan, not from the request.
    answer = await with_plans.post("/graphql", json={"documentId": f"sha256:{trusted.hash}"})
    assert answer.status_code == 200 and "errors" not in answer.json()
    assert ("BrowseMerchants", "anonymous") in planner.planned
    assert REGISTRY.get_sample_value("anfu_graphql_requests_total", labels) == before + 1
