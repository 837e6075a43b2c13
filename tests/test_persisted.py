"""Persisted operations: Apollo APQ over POST and GET, trusted documents from the clients'
manifest by hash and by documentId, the allowlist mode, and the manifest kept up to date."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiocache import SimpleMemoryCache
from aiocache.serializers import JsonSerializer
from graphql import build_schema as build_sdl_schema
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from typer.testing import CliRunner

from cli import app as cli_app
from core import cache
from models.enums import Role
from schema import schema
from server import create_app
from services.persisted import (
    PROJECT_CLIENTS,
    PROJECT_MANIFEST,
    ApqStore,
    ManifestError,
    PersistedPolicy,
    build_manifest,
    canonical,
    document_hash,
    load_manifest,
    manifest_text,
    read_client_documents,
    validation_problems,
)
from settings import Settings
from tests.support import make_merchant, make_user, token_for

REPO = Path(__file__).resolve().parent.parent
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
CREDIT_LOOKUP = PROJECT_CLIENTS / "third-party-credit-lookup" / "merchant-credit-lookup.graphql"
CONSUMER_LOGIN = PROJECT_CLIENTS / "consumer-miniprogram" / "login.graphql"
CARD_ACTIVITY = PROJECT_CLIENTS / "consumer-miniprogram" / "card-activity.graphql"
OTHER_CARD_ACTIVITY = "subscription Mine { cardActivity { id kind } }"
CATEGORIES = "query Categories { categories { code name } }"
LOGOUT_LITERAL = 'mutation Logout { logout(refreshToken: "no-such-token") }'


def unique_query() -> str:
    """A document no earlier run can have registered (Redis keeps APQ documents for a day)."""
    return f"query Fresh {{ c{uuid.uuid4().hex[:12]}: categories {{ code }} }}"


def apq(hash_: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hash_}}


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


class Api:
    """One app over httpx, with POST and GET helpers that return (status, JSON body)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
        response = await self.http.post("/graphql", json=body, headers=_auth(token))
        return response.status_code, response.json()

    async def get(
        self, params: dict[str, Any], token: str | None = None, accept: str = "*/*"
    ) -> tuple[int, Any]:
        query = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
        response = await self.http.get(
            "/graphql", params=query, headers={**_auth(token), "accept": accept}
        )
        assert response.headers["content-type"].split(";")[0] != "text/html", response.text[:80]
        return response.status_code, response.json()


def _auth(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


@pytest.fixture(scope="module")
def make_api(database: str) -> Callable[..., Any]:
    """An Api over a new app with some settings changed: `async with make_api(...) as api`."""

    @contextlib.asynccontextmanager
    async def make(**changes: Any) -> AsyncIterator[Api]:
        settings = Settings().model_copy(update=changes)
        transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
            yield Api(http)

    return make


@pytest.fixture(scope="module")
async def api(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    async with make_api() as opened:
        yield opened


@pytest.fixture(scope="module")
async def allowlist(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    async with make_api(persisted="allowlist") as opened:
        yield opened


# Apollo APQ


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_an_unknown_hash_is_persisted_query_not_found_with_status_200(api, method):
    extensions = apq(document_hash(unique_query()))

    if method == "POST":
        status, body = await api.post({"extensions": extensions})
    else:
        status, body = await api.get({"extensions": extensions})

    assert status == 200
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(body) == [NOT_FOUND]
    assert body.get("data") is None


async def test_a_document_sent_with_another_documents_hash_is_refused_and_not_kept(api):
    query, other = unique_query(), unique_query()

    status, body = await api.post({"query": query, "extensions": apq(document_hash(other))})
    _, again = await api.post({"extensions": apq(document_hash(other))})

    assert status == 200
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "provided sha does not match query"
    assert codes(again) == [NOT_FOUND]


@pytest.mark.parametrize(
    "persisted",
    [
        {"version": 2, "sha256Hash": "0" * 64},
        {"version": 1, "sha256Hash": "not-a-hash"},
        {"version": 1},
        "0" * 64,
    ],
)
async def test_a_malformed_persisted_query_extension_is_bad_user_input(api, persisted):
    _, body = await api.post({"query": CATEGORIES, "extensions": {"persistedQuery": persisted}})

    assert codes(body) == ["BAD_USER_INPUT"]


async def test_a_document_registered_over_post_then_runs_by_hash_over_post_and_get(api):
    query = unique_query()
    extensions = apq(document_hash(query))
    _, missing = await api.post({"extensions": extensions})

    _, registered = await api.post({"query": query, "extensions": extensions})
    _, by_post = await api.post({"extensions": extensions})
    status, by_get = await api.get({"extensions": extensions})

    assert codes(missing) == [NOT_FOUND]
    assert registered["data"] == by_post["data"] == by_get["data"]
    assert registered["data"] and not registered.get("errors")
    assert status == 200


async def test_a_document_registered_over_get_then_runs_by_hash_alone(api):
    query = unique_query()
    extensions = apq(document_hash(query))

    _, registered = await api.get({"query": query, "extensions": extensions})
    _, by_hash = await api.get({"extensions": extensions})

    assert not registered.get("errors")
    assert by_hash["data"] == registered["data"]


async def test_hash_only_get_asking_for_html_gets_an_answer_not_graphiql(api):
    status, body = await api.get(
        {"extensions": apq(document_hash(unique_query()))}, accept="text/html"
    )

    assert status == 200
    assert codes(body) == [NOT_FOUND]


async def test_variables_and_operation_name_go_with_a_hash_over_get(api):
    query = "query Pick($first: Int) { merchants(first: $first) { edges { cursor } } }"
    query += f" # {uuid.uuid4().hex}"
    extensions = apq(document_hash(query))
    await api.post({"query": query, "extensions": extensions, "variables": {"first": 1}})

    _, body = await api.get(
        {"extensions": extensions, "variables": {"first": 1}, "operationName": "Pick"}
    )

    assert not body.get("errors")
    assert len(body["data"]["merchants"]["edges"]) <= 1


async def test_a_document_that_does_not_validate_is_not_kept(api):
    query = f"query Broken {{ c{uuid.uuid4().hex[:8]}: noSuchField }}"
    extensions = apq(document_hash(query))

    _, first = await api.post({"query": query, "extensions": extensions})
    _, again = await api.post({"extensions": extensions})

    assert codes(first) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes(again) == [NOT_FOUND]


async def test_a_document_over_the_size_bound_runs_but_is_not_kept(make_api):
    query = unique_query()
    extensions = apq(document_hash(query))
    async with make_api(apq_max_bytes=len(query.encode()) - 1) as small:
        _, ran = await small.post({"query": query, "extensions": extensions})
        _, again = await small.post({"extensions": extensions})

    assert not ran.get("errors") and ran["data"]
    assert codes(again) == [NOT_FOUND]


async def test_a_stored_mutation_never_runs_over_get(api):
    extensions = apq(document_hash(LOGOUT_LITERAL))
    _, registered = await api.post({"query": LOGOUT_LITERAL, "extensions": extensions})

    response = await api.http.get("/graphql", params={"extensions": json.dumps(extensions)})

    assert registered["data"] == {"logout": False}
    assert response.status_code in (400, 405)
    assert "logout" not in response.text or '"data":null' in response.text.replace(" ", "")


# The store's bounds


@pytest.fixture
def memory_cache() -> Any:
    """An in-process cache in place of the session's (memory or Redis) for one test."""
    previous = cache.cache()
    fresh = cache.build_cache("memory://")
    cache.use_cache(fresh)
    try:
        yield fresh
    finally:
        cache.use_cache(previous)


async def test_the_in_process_store_keeps_at_most_max_entries_dropping_the_oldest(memory_cache):
    store = ApqStore(max_entries=2)
    documents = [unique_query() for _ in range(3)]

    for document in documents:
        assert await store.put(document_hash(document), document)

    assert isinstance(memory_cache, SimpleMemoryCache)
    assert await store.get(document_hash(documents[0])) is None
    assert [await store.get(document_hash(d)) for d in documents[1:]] == documents[1:]


async def test_a_recently_used_document_outlives_older_ones(memory_cache):
    store = ApqStore(max_entries=2)
    first, second, third = (unique_query() for _ in range(3))
    await store.put(document_hash(first), first)
    await store.put(document_hash(second), second)

    await store.get(document_hash(first))
    await store.put(document_hash(third), third)

    assert await store.get(document_hash(first)) == first
    assert await store.get(document_hash(second)) is None


async def test_stored_documents_expire_after_their_ttl():
    store = ApqStore(ttl_seconds=1)
    document = unique_query()
    await store.put(document_hash(document), document)
    assert await store.get(document_hash(document)) == document

    await asyncio.sleep(1.3)

    assert await store.get(document_hash(document)) is None


async def test_the_store_keeps_plain_json_and_ignores_an_entry_that_is_not_its_hash():
    document, other = unique_query(), unique_query()
    store = ApqStore()

    await cache.cache().set(f"apq:{document_hash(document)}", other, ttl=60)

    assert isinstance(cache.cache().serializer, JsonSerializer)
    assert await store.get(document_hash(document)) is None


# Trusted documents from the manifest


@pytest.fixture(scope="module")
async def merchant(database: str) -> Any:
    return await make_merchant(name=f"信用查询洗衣 {uuid.uuid4().hex[:6]}")


async def test_a_manifest_document_runs_by_its_hash_without_registering(api, merchant):
    hash_ = document_hash(canonical(CREDIT_LOOKUP.read_text()))
    variables = {"search": merchant.merchant.name}

    _, by_post = await api.post({"extensions": apq(hash_), "variables": variables})
    _, by_get = await api.get({"extensions": apq(hash_), "variables": variables})

    assert not by_post.get("errors")
    assert by_post == by_get
    node = by_post["data"]["merchants"]["edges"][0]["node"]
    assert node["name"] == merchant.merchant.name and "creditRating" in node


async def test_a_manifest_document_runs_by_document_id_over_post_and_get(api, merchant):
    document_id = f"sha256:{document_hash(canonical(CREDIT_LOOKUP.read_text()))}"
    variables = {"search": merchant.merchant.name}

    _, by_post = await api.post({"documentId": document_id, "variables": variables})
    _, by_get = await api.get({"documentId": document_id, "variables": variables})

    assert not by_post.get("errors")
    assert by_post == by_get
    assert by_post["data"]["merchants"]["totalCount"] == 1


async def test_an_unknown_document_id_is_not_found_and_a_malformed_one_bad_input(api):
    _, unknown = await api.post({"documentId": f"sha256:{'0' * 64}"})
    _, malformed = await api.post({"documentId": "md5:abc"})
    _, conflicting = await api.post(
        {"documentId": f"sha256:{'0' * 64}", "extensions": apq("1" * 64)}
    )

    assert codes(unknown) == [NOT_FOUND]
    assert codes(malformed) == codes(conflicting) == ["BAD_USER_INPUT"]


async def test_an_apq_document_is_not_a_trusted_document(api):
    query = unique_query()
    await api.post({"query": query, "extensions": apq(document_hash(query))})

    _, body = await api.post({"documentId": f"sha256:{document_hash(query)}"})

    assert codes(body) == [NOT_FOUND]


# Allowlist mode


@pytest.fixture(scope="module")
async def tokens(database: str) -> dict[str, str]:
    consumer = await make_user(Role.CONSUMER)
    regulator = await make_user(Role.REGULATOR)
    return {"consumer": token_for(consumer), "regulator": token_for(regulator)}


@pytest.mark.parametrize("who", ["anonymous", "consumer"])
async def test_allowlist_refuses_a_document_outside_the_manifest(allowlist, tokens, who):
    token = tokens.get(who)

    _, sent = await allowlist.post({"query": CATEGORIES}, token)
    _, with_hash = await allowlist.post(
        {"query": CATEGORIES, "extensions": apq(document_hash(CATEGORIES))}, token
    )
    _, by_get = await allowlist.get({"query": CATEGORIES}, token)

    assert codes(sent) == codes(with_hash) == codes(by_get) == [NOT_ALLOWED]
    assert sent.get("data") is None


async def test_allowlist_runs_manifest_documents_by_id_hash_or_text(allowlist, merchant):
    text = CREDIT_LOOKUP.read_text()
    hash_ = document_hash(canonical(text))
    variables = {"search": merchant.merchant.name}

    _, by_id = await allowlist.post({"documentId": f"sha256:{hash_}", "variables": variables})
    _, by_hash = await allowlist.get({"extensions": apq(hash_), "variables": variables})
    # The file as written (comments, layout) stands for its manifest document.
    _, by_text = await allowlist.post({"query": text, "variables": variables})

    assert not by_id.get("errors")
    assert by_id == by_hash == by_text


DEEP = "query Deep {" + " categories {" * 3000 + " code" + " }" * 3001
LONG = "query Long { " + "categories { code } " * 5000 + "}"


@pytest.mark.parametrize("text", [DEEP, LONG, "{", "query Broken { categories { "])
def test_looking_a_text_up_in_the_manifest_reads_no_further_than_its_longest_document(text):
    policy = PersistedPolicy(mode="allowlist", manifest=load_manifest(PROJECT_MANIFEST))

    assert policy.trusted(text) is None


async def test_allowlist_runs_manifest_mutations_for_anonymous_callers(allowlist):
    document_id = f"sha256:{document_hash(canonical(CONSUMER_LOGIN.read_text()))}"

    _, body = await allowlist.post(
        {"documentId": document_id, "variables": {"phone": "13000000000", "password": "wrong-1"}}
    )

    assert codes(body) == ["UNAUTHENTICATED"]  # it ran: the sign-in was refused, not the document


async def test_allowlist_lets_regulators_send_any_document_and_use_apq(allowlist, tokens):
    regulator = tokens["regulator"]
    query = unique_query()
    extensions = apq(document_hash(query))

    _, sent = await allowlist.post({"query": CATEGORIES}, regulator)
    _, introspection = await allowlist.post(
        {"query": "{ __schema { queryType { name } } }"}, regulator
    )
    _, registered = await allowlist.post({"query": query, "extensions": extensions}, regulator)
    _, by_hash = await allowlist.get({"extensions": extensions}, regulator)

    assert not sent.get("errors") and sent["data"]["categories"]
    assert introspection["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert not registered.get("errors")
    assert by_hash["data"] == registered["data"]


async def test_allowlist_never_serves_a_regulators_apq_document_to_others(allowlist, tokens):
    query = unique_query()
    extensions = apq(document_hash(query))
    await allowlist.post({"query": query, "extensions": extensions}, tokens["regulator"])

    _, anonymous = await allowlist.post({"extensions": extensions})
    _, consumer = await allowlist.post({"extensions": extensions}, tokens["consumer"])

    assert codes(anonymous) == codes(consumer) == [NOT_FOUND]


async def test_allowlist_answers_a_subscription_outside_the_manifest_with_an_error(tokens):
    app = create_app(
        Settings().model_copy(update={"persisted": "allowlist"}), manage_database=False
    )
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http,
        aconnect_ws("http://anfu.test/graphql", http, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        init = {"authorization": f"Bearer {tokens['consumer']}"}
        await ws.send_json({"type": "connection_init", "payload": init})
        assert (await asyncio.wait_for(ws.receive_json(), 5))["type"] == "connection_ack"

        await ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": OTHER_CARD_ACTIVITY}}
        )
        refused: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 5)
        await ws.send_json(
            {"id": "2", "type": "subscribe", "payload": {"query": CARD_ACTIVITY.read_text()}}
        )
        with pytest.raises(TimeoutError):  # subscribed: it waits for card activity
            await asyncio.wait_for(ws.receive_json(), 0.5)

    assert refused["type"] == "error" and refused["id"] == "1"
    assert [error["extensions"]["code"] for error in refused["payload"]] == [NOT_ALLOWED]


async def test_open_mode_runs_any_document(api, tokens):
    _, anonymous = await api.post({"query": CATEGORIES})

    assert not anonymous.get("errors")


# The manifest


def test_every_client_document_validates_against_the_schema():
    documents = read_client_documents(PROJECT_CLIENTS)
    clients = {document.client for document in documents}

    assert clients == {
        "consumer-miniprogram",
        "merchant-miniprogram",
        "regulator-tools",
        "third-party-credit-lookup",
    }
    assert validation_problems(documents, schema._schema) == []


def test_every_client_document_validates_against_the_committed_schema_graphql():
    sdl = build_sdl_schema((REPO / "schema.graphql").read_text(encoding="utf-8"))

    assert validation_problems(read_client_documents(PROJECT_CLIENTS), sdl) == []


def test_the_committed_manifest_is_up_to_date():
    built = manifest_text(build_manifest(PROJECT_CLIENTS, schema._schema))

    assert PROJECT_MANIFEST.read_text(encoding="utf-8") == built, (
        "clients/manifest.json is stale: run `anfu persisted build`"
    )


def test_the_manifest_files_each_document_under_its_hash_with_client_and_name():
    manifest = load_manifest(PROJECT_MANIFEST)
    lookup = manifest.get(document_hash(canonical(CREDIT_LOOKUP.read_text())))

    assert lookup is not None
    assert lookup.clients == ("third-party-credit-lookup",)
    assert lookup.operation_name == "MerchantCreditLookup"
    assert lookup.operation_type == "query"
    assert all(document_hash(d.document) == h for h, d in manifest.documents.items())


def test_a_document_two_clients_send_is_filed_once_for_both():
    manifest = json.loads(PROJECT_MANIFEST.read_text(encoding="utf-8"))
    logout = [d for d in manifest["documents"].values() if d["operationName"] == "Logout"]

    assert len(logout) == 1
    assert logout[0]["clients"] == ["consumer-miniprogram", "merchant-miniprogram"]


def test_a_tampered_manifest_is_refused(tmp_path):
    manifest = json.loads(PROJECT_MANIFEST.read_text(encoding="utf-8"))
    entry = next(iter(manifest["documents"].values()))
    entry["document"] = "query Other { categories { code } }"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))

    with pytest.raises(ManifestError, match="another hash"):
        load_manifest(path)
    with pytest.raises(ManifestError):
        create_app(Settings().model_copy(update={"persisted_manifest": str(path)}))


def test_allowlist_mode_without_a_manifest_refuses_to_start(tmp_path):
    empty = tmp_path / "manifest.json"
    empty.write_text(json.dumps({"format": "anfu-trusted-documents", "version": 1}))

    with pytest.raises(ManifestError, match="allowlist"):
        create_app(
            Settings().model_copy(
                update={"persisted": "allowlist", "persisted_manifest": str(empty)}
            )
        )


# anfu persisted build


def test_the_command_checks_the_committed_manifest():
    result = CliRunner().invoke(cli_app, ["persisted", "build", "--check"])

    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_the_command_writes_a_manifest_of_a_clients_directory(tmp_path):
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "lookup.graphql").write_text(
        "# comment\nquery Lookup { categories { code } }\n"
    )
    output = tmp_path / "out.json"

    result = CliRunner().invoke(
        cli_app, ["persisted", "build", "--clients", str(tmp_path), "--output", str(output)]
    )

    assert result.exit_code == 0, result.output
    [(hash_, entry)] = load_manifest(output).documents.items()
    assert entry.document == "query Lookup {\n  categories {\n    code\n  }\n}"
    assert hash_ == document_hash(entry.document) and entry.clients == ("bank",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("query Lookup { noSuchField }", "Cannot query field 'noSuchField'"),
        ("{ categories { code } }", "exactly one operation"),
        ("query A { me { id } } query B { me { id } }", "exactly one operation"),
        ("query Lookup {", "Syntax Error"),
    ],
)
def test_the_command_refuses_documents_that_are_not_one_valid_named_operation(
    tmp_path, text, problem
):
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "lookup.graphql").write_text(text)

    result = CliRunner().invoke(cli_app, ["persisted", "build", "--clients", str(tmp_path)])

    assert result.exit_code == 2
    assert problem in result.output
    assert not (tmp_path / "manifest.json").exists()
