"""The assembled GraphQL schema.

Types live in one module per domain (accounts, merchants, cards, complaints,
credit, platform); `root.py` wires the Query, Mutation and Subscription fields
to the thin functions in resolvers/, which call services/.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig

from schema.enums import ErrorCode
from schema.errors import ErrorCodes
from schema.introspection import RegulatorIntrospection, ValidationWithoutSuggestions
from schema.limits import HeavyLane, Limits, OperationLimits
from schema.persisted import PersistedQueries
from schema.root import Mutation, Query, Subscription
from schema.scalars import SCALARS
from schema.text import TextInput
from schema.validated import ValidatedDocuments


class AnfuSchema(strawberry.Schema):
    # In production: no "Did you mean" while coercing variables either (see schema/introspection.py).
    hide_suggestions = False

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Do not log here: schema/errors.py logs unexpected errors once, with the request id."""

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        if self.hide_suggestions:
            kwargs["hide_suggestions"] = True
        return kwargs


def build_schema(*, production: bool = False, limits: Limits | None = None) -> strawberry.Schema:
    """The schema with the operation limits (DESIGN.md's defaults unless given); in production
    introspection is for regulators and no error message suggests a name."""
    built = AnfuSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[ErrorCode],
        extensions=extensions(production, limits or Limits()),
        config=StrawberryConfig(
            scalar_map=SCALARS,  # type: ignore[arg-type]
            disable_field_suggestions=production,
        ),
    )
    built.hide_suggestions = production
    return built


def extensions(production: bool, limits: Limits) -> list[Callable[[], SchemaExtension]]:
    """Classes or factories, never instances: each request gets its own (PITFALLS.md)."""
    lane = HeavyLane(limits.heavy_at_once)  # shared by the requests, unlike the extensions
    # In production: introspection is refused to all but regulators before its size is looked
    # at, and validation runs without suggestions.
    introspection: list[Callable[[], SchemaExtension]] = [RegulatorIntrospection]
    validation: list[Callable[[], SchemaExtension]] = [ValidationWithoutSuggestions]
    return [
        # PersistedQueries first: it supplies the document the others look at.
        PersistedQueries,
        lambda: MaxTokensLimiter(limits.max_tokens),
        *(introspection if production else []),
        # The limits before the rest of validation: a refused document is not validated.
        lambda: OperationLimits(limits, lane),
        # After the limits, before validation: a document once found valid is not validated again.
        ValidatedDocuments,
        *(validation if production else []),
        ErrorCodes,
        # After ErrorCodes: a refused token is answered before the text is looked at.
        TextInput,
    ]


@functools.cache
def schema_for(production: bool, limits: Limits) -> strawberry.Schema:
    """One schema per configuration, however many apps a process makes (tests make many)."""
    return build_schema(production=production, limits=limits)


schema = build_schema()
