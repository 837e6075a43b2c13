"""The assembled GraphQL schema.

Types live in one module per domain (accounts, merchants, cards, complaints,
credit, platform); `root.py` wires the Query, Mutation and Subscription fields
to the thin functions in resolvers/, which call services/.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from schema.enums import ErrorCode
from schema.errors import ErrorCodes
from schema.persisted import PersistedQueries
from schema.root import Mutation, Query, Subscription
from schema.scalars import SCALARS


class AnfuSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Do not log here: schema/errors.py logs unexpected errors once, with the request id."""


def build_schema(*, production: bool = False) -> strawberry.Schema:
    """The schema; in production error messages suggest no field names."""
    return AnfuSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[ErrorCode],
        # PersistedQueries first: it supplies the document the others look at.
        extensions=[PersistedQueries, ErrorCodes],
        config=StrawberryConfig(
            scalar_map=SCALARS,  # type: ignore[arg-type]
            disable_field_suggestions=production,
        ),
    )


schema = build_schema()
