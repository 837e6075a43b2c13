"""Which requests a plan answers, and the plans kept for them.

A request is answered from a plan when its document is a trusted one (the manifest's, sent in
full or named by hash) or an APQ document already stored, its caller was authenticated and
counted without error, the operation has a plan for the caller's kind (plans/compiler.py),
its variables are ones the API takes without an error, and it is within the operation limits
(the same measure schema/limits.py takes). Everything else, and anything unusual on the way,
goes to the general executor, which answers exactly as before.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError, parse, validate
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from core.errors import BadInput
from core.principal import Principal
from core.public_cache import CATALOG, public_cache
from plans import values
from plans.compiler import ANONYMOUS, CONSUMER, Plan, compile_operation
from plans.runner import PlanMiss, run
from schema.context import Context
from schema.cost import measure
from schema.limits import Limits, count_tokens, refusals
from schema.persisted import _apq_hash, _document_id
from services.persisted import PersistedPolicy, document_hash
from settings import Settings

log = logging.getLogger("anfu.plans")

# Distinct (document, operation, caller kind) a process keeps a plan (or its absence) for.
PLANS_KEPT = 256
# Distinct variable values whose cost a plan remembers.
COSTS_KEPT = 64


class Compiled:
    """A plan with the parsed document it measures costs on."""

    def __init__(self, plan: Plan, document: Any) -> None:
        self.plan = plan
        self.document = document
        self.costs: OrderedDict[tuple[Any, ...], bool] = OrderedDict()


def caller_kind(principal: Principal) -> str | None:
    if principal.user_id is None and principal.role is None:
        return ANONYMOUS
    if principal.is_consumer and principal.user_id is not None:
        return CONSUMER
    return None


class Planner:
    """The plans of one server: its schema, limits and persisted-operations policy."""

    def __init__(self, schema: Any, limits: Limits, policy: PersistedPolicy) -> None:
        self.schema = schema
        self.limits = limits
        self.policy = policy
        self._plans: OrderedDict[tuple[str, str | None, str, bool], Compiled | None]
        self._plans = OrderedDict()
        # What was planned, for the differential test: (operation name, caller kind).
        self.planned: set[tuple[str | None, str]] = set()

    async def answer(
        self,
        query: str | None,
        operation_name: str | None,
        variables: object,
        extensions: Mapping[str, Any] | None,
        principal: Principal,
    ) -> tuple[str | None, dict[str, Any]] | None:
        """The operation's name and `data` from its plan, or None: the general executor
        answers."""
        kind = caller_kind(principal)
        if kind is None:
            return None
        found = await self._document(query, extensions, principal)
        if found is None:
            return None
        text, sent = found
        compiled = self._compiled(text, operation_name, kind, sent)
        if compiled is None:
            return None
        resolved = values.resolve(compiled.plan.variables, variables)
        # Measured on the variables as sent, as schema/limits.py measures them.
        if resolved is None or not self._within_limits(compiled, variables or {}):
            return None
        try:
            if kind == ANONYMOUS:
                # The same answer for every anonymous caller: kept in the public-read cache
                # until a merchant, store, product or sale changes it (core/public_cache.py).
                key = (text, compiled.plan.name, json.dumps(resolved, sort_keys=True, default=str))
                plan = compiled.plan
                data = await public_cache().get(
                    "plan", key, CATALOG, lambda: run(plan, None, resolved)
                )
            else:
                data = await run(compiled.plan, principal.user_id, resolved)
        except PlanMiss:
            return None
        self.planned.add((compiled.plan.name, kind))
        return compiled.plan.name, data

    async def _document(
        self, query: str | None, extensions: Mapping[str, Any] | None, principal: Principal
    ) -> tuple[str, bool] | None:
        """(text, sent in full) of an eligible document, as schema/persisted.py resolves it."""
        extensions = extensions or {}
        if any(name not in ("persistedQuery", "documentId") for name in extensions):
            return None
        try:
            apq_hash = _apq_hash(extensions.get("persistedQuery"))
            document_id = _document_id(extensions.get("documentId"))
        except BadInput:
            return None
        if apq_hash and document_id and apq_hash != document_id:
            return None
        named = document_id or apq_hash
        if query:
            if named is not None and document_hash(query) != named:
                return None
            if apq_hash is not None and self.policy.manifest.get(apq_hash) is None:
                return None  # the general executor keeps it in the APQ store
            return query, True
        if named is None:
            return None
        trusted = self.policy.manifest.get(named)
        if trusted is not None:
            return trusted.document, False
        if document_id is not None or (self.policy.allowlist and not principal.is_regulator):
            return None
        stored = await self.policy.store.get(named)
        return (stored, False) if stored is not None else None

    def _compiled(
        self, text: str, operation_name: str | None, kind: str, sent: bool
    ) -> Compiled | None:
        key = (text, operation_name, kind, sent)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        compiled = self._compile(text, operation_name, kind, sent)
        self._plans[key] = compiled
        if len(self._plans) > PLANS_KEPT:
            self._plans.popitem(last=False)
        return compiled

    def _compile(
        self, text: str, operation_name: str | None, kind: str, sent: bool
    ) -> Compiled | None:
        # A document sent in full is planned only when it is one of the manifest's.
        if sent and self.policy.trusted(text) is None:
            return None
        limits = self.limits
        if len(text) > limits.max_query_length:
            return None
        if count_tokens(text, limits.max_tokens) > limits.max_tokens:
            return None
        try:
            document = parse(text, max_tokens=limits.max_tokens)
        except (GraphQLError, RecursionError):
            return None
        if validate(self.schema._schema, document):
            return None
        plan = compile_operation(document, operation_name, kind)
        if plan is None:
            return None
        log.debug("planned %s for %s callers", operation_name, kind)
        return Compiled(plan, document)

    def _within_limits(self, compiled: Compiled, sent: Any) -> bool:
        """Under every limit and not heavy (a heavy query waits for its lane: general path).
        `sent` has passed values.resolve: declared names, scalar values only."""
        key = tuple(sorted((name, type(value), value) for name, value in sent.items()))
        within = compiled.costs.get(key)
        if within is None:
            found = measure(self.schema._schema, compiled.document, sent)
            within = not refusals(found, self.limits) and found.cost <= self.limits.heavy_cost
            compiled.costs[key] = within
            if len(compiled.costs) > COSTS_KEPT:
                compiled.costs.popitem(last=False)
        return within


def planner_for(
    settings: Settings, schema: Any, limits: Limits, policy: PersistedPolicy
) -> Planner | None:
    """The server's planner, or None when plans are off (ANFU_PLANS=off)."""
    return Planner(schema, limits, policy) if settings.plans == "on" else None


async def answer(
    planner: Planner | None, method: str, call: Mapping[str, Any]
) -> ExecutionResult | None:
    """The result of an HTTP operation (strawberry's execute_single arguments) from its plan,
    after authentication, rate limiting (the context) and the persisted-query lookup; None
    when the general executor must answer."""
    context, data = call.get("context"), call.get("request_data")
    if (
        planner is None
        or method not in ("GET", "POST")
        or not isinstance(context, Context)
        or context.auth_error is not None
        or not isinstance(data, GraphQLRequestData)
    ):
        return None
    try:
        found = await planner.answer(
            data.query, data.operation_name, data.variables, data.extensions, context.principal
        )
    except Exception:
        log.exception("a compiled plan failed; the general executor answers")
        return None
    if found is None:
        return None
    name, data = found
    context.operation_name = name  # for the request's log line and metrics, as ErrorCodes does
    return ExecutionResult(data=data, errors=None)
