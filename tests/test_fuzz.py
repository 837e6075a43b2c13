"""schemathesis fuzzes every role's API: queries and mutations built from the schema, with
arguments made up by hypothesis (valid and invalid), sent as anonymous, consumer, merchant and
regulator. No answer may be a 5xx, an error without an `extensions.code`, or a fault
(INTERNAL_SERVER_ERROR): whatever a client sends gets a coded answer.

schemathesis cannot make up Money, Date or DateTime values itself; the strategies below do,
often at the ends of the calendar (years 1 and 9999) as well as around now. Each role fuzzes
each operation it may call in turn (a first pass asks every operation twice and drops those
refused for the role), so the budget goes to answers that run resolvers, evenly.

It runs once, in the SQLite pass of `make test` (marked `once`, ANFU_ONCE_TESTS): the answers
it checks are the same on every database, and the PostgreSQL-only faults (NUL, surrogates,
bounded columns) have their own tests on both (tests/test_input_edges.py). The examples are
derandomized, so a run is repeatable; ANFU_FUZZ_EXAMPLES sets the budget per operation and
ANFU_FUZZ_SEED draws other examples (to hunt with a larger budget by hand).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import ipaddress
import json
import os
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes

from core.errors import ErrorCode
from models.enums import Role
from schema import schema as graphql_schema
from schema.ids import encode_id
from server import create_app
from settings import Settings
from tests.support import buy_card, make_merchant, make_user, token_for

# Examples per operation a role may call (four roles: several hundred requests, < 90 s).
EXAMPLES_PER_OPERATION = int(os.environ.get("ANFU_FUZZ_EXAMPLES", "8"))
# Unset: the same examples every run. A number: other examples.
FUZZ_SEED = os.environ.get("ANFU_FUZZ_SEED")
CODES = frozenset(code.value for code in ErrorCode)
REFUSED_FOR_ROLE = {ErrorCode.UNAUTHENTICATED.value, ErrorCode.FORBIDDEN.value}
# Types whose global IDs the schema hands out; small keys name rows earlier tests made.
NODE_TYPES = (
    "Merchant",
    "Store",
    "CardProduct",
    "Card",
    "Transaction",
    "Complaint",
    "RefundRequest",
    "User",
    "Announcement",
    "RiskAlert",
    "FinancingApplication",
    "AuditEntry",
)
NOW = dt.datetime(2026, 11, 29, 12, 0)


def _money() -> st.SearchStrategy[str]:
    fen = st.one_of(st.integers(1, 100_000_00), st.integers(0, 10**15))
    well_formed = fen.map(lambda f: f"{f // 100}.{f % 100:02d}")
    ill_formed = st.sampled_from(["", "5", "5.0", "5.000", "+5.00", "-5.00", "1e3", "0.00"])
    return st.one_of(well_formed, well_formed, well_formed, ill_formed)


def _dates() -> st.SearchStrategy[dt.date]:
    near = st.dates(NOW.date() - dt.timedelta(days=400), NOW.date() + dt.timedelta(days=30))
    ends = st.sampled_from([dt.date.min, dt.date(1, 1, 5), dt.date(9999, 12, 28), dt.date.max])
    return st.one_of(near, ends, st.dates())


def _date_times() -> st.SearchStrategy[str]:
    near = st.datetimes(NOW - dt.timedelta(days=400), NOW + dt.timedelta(days=30))
    ends = st.sampled_from([dt.datetime.min, dt.datetime.max, dt.datetime(9999, 12, 31, 20)])
    offsets = st.sampled_from([0, 8 * 60, -12 * 60, 14 * 60, 5 * 60 + 45]).map(
        lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
    )
    moments = st.one_of(near, ends, st.datetimes())
    return st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(), moments, offsets)


def _ids() -> st.SearchStrategy[str]:
    known = st.builds(encode_id, st.sampled_from(NODE_TYPES), st.integers(1, 60))
    return st.one_of(known, known, known, st.text(max_size=12))


schemathesis.graphql.scalar("Money", _money().map(nodes.String))
schemathesis.graphql.scalar("Date", _dates().map(lambda day: nodes.String(day.isoformat())))
schemathesis.graphql.scalar("DateTime", _date_times().map(nodes.String))
schemathesis.graphql.scalar("ID", _ids().map(nodes.String))


def _problem(response: httpx.Response) -> str | None:
    """What is wrong with an answer, or None."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} and no JSON: {response.text[:200]!r}"
    for error in _errors(body):
        code = (error.get("extensions") or {}).get("code")
        if code not in CODES:
            return f"an error without a code: {error}"
        if code == ErrorCode.INTERNAL_SERVER_ERROR.value:
            return f"a fault: {error}"
    return None


def _errors(body: Any) -> list[dict[str, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [error for error in errors or [] if isinstance(error, dict)]


def _outcome(response: httpx.Response) -> str:
    try:
        errors = _errors(response.json())
    except ValueError:
        return "no JSON"
    return ",".join(sorted({str((e.get("extensions") or {}).get("code")) for e in errors})) or "OK"


class Fuzzer:
    """Sends schemathesis' cases as one role and keeps what went wrong."""

    def __init__(self, loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient) -> None:
        self.loop = loop
        self.http = http
        self.problems: list[str] = []
        self.outcomes: collections.Counter[str] = collections.Counter()

    def send(self, role: str, token: str | None, document: str) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        body = json.dumps({"query": document})
        response = self.loop.run_until_complete(
            asyncio.wait_for(self.http.post("/graphql", content=body, headers=headers), 30)
        )
        self.outcomes[_outcome(response)] += 1
        problem = _problem(response)
        if problem is not None and len(self.problems) < 20:
            self.problems.append(f"{role}: {problem}\n{document}")
        return response

    def callable_operations(self, role: str, token: str | None, operations: list[Any]) -> list[Any]:
        """The operations the role is not refused outright (each asked twice)."""
        return [operation for operation in operations if not self._refused(role, token, operation)]

    def _refused(self, role: str, token: str | None, operation: Any) -> bool:
        field = operation.label.split(".", 1)[1]
        refused: list[dict[str, Any]] = []

        def ask(document: str) -> None:
            body = self.send(role, token, document).json()
            refused.extend(
                error
                for error in _errors(body)
                if error.get("path") == [field]
                and (error.get("extensions") or {}).get("code") in REFUSED_FOR_ROLE
            )

        self._run(operation.as_strategy(), 2, ask)
        return bool(refused)

    def fuzz(self, role: str, token: str | None, operation: Any) -> None:
        positive = operation.as_strategy()
        negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        self._run(
            st.one_of(positive, positive, positive, negative),
            EXAMPLES_PER_OPERATION,
            lambda document: self.send(role, token, document),
        )

    @staticmethod
    def _run(cases: st.SearchStrategy[Any], examples: int, send: Any) -> None:
        @hypothesis_settings(
            max_examples=examples,
            deadline=None,
            derandomize=FUZZ_SEED is None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases)
        def run(case: Any) -> None:
            send(case.body)

        if FUZZ_SEED is not None:
            run = seed(int(FUZZ_SEED))(run)
        run()


@pytest.mark.once
def test_every_roles_api_answers_whatever_it_is_sent(loop, database, settings: Settings):
    # Given a merchant with a product, a consumer holding one of its cards, and a regulator,
    # and a client with an address of its own (its failed logins lock no other test out)
    async def world() -> dict[str, str | None]:
        shop = await make_merchant()
        consumer = await make_user()
        await buy_card(consumer, shop)
        regulator = await make_user(Role.REGULATOR)
        return {
            "anonymous": None,
            "consumer": token_for(consumer),
            "merchant": shop.token,
            "regulator": token_for(regulator),
        }

    tokens = loop.run_until_complete(world())
    address = str(ipaddress.IPv4Address("198.18.0.0") + uuid.uuid4().int % 65_000)
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app, client=(address, 4242))
    http = httpx.AsyncClient(transport=transport, base_url="http://anfu.test", timeout=30)
    loaded = schemathesis.graphql.from_file(str(graphql_schema))
    operations = [result.ok() for result in loaded.get_all_operations() if isinstance(result, Ok)]
    fuzzer = Fuzzer(loop, http)

    # When schemathesis sends made-up operations as each role, those the role may call
    try:
        for role, token in tokens.items():
            allowed = fuzzer.callable_operations(role, token, operations)
            assert allowed, f"{role} may call nothing"
            for operation in allowed:
                fuzzer.fuzz(role, token, operation)
    finally:
        loop.run_until_complete(http.aclose())

    # Then every answer had a code and none was a fault, and many ran their resolvers
    total = sum(fuzzer.outcomes.values())
    assert total >= 300, fuzzer.outcomes
    assert fuzzer.problems == [], "\n\n".join(fuzzer.problems)
    assert fuzzer.outcomes["OK"] >= total // 10, fuzzer.outcomes
