"""One permission point: every root field, mutation and subscription declares exactly one role
rule at the field (schema/permissions.py), and that rule is what callers meet.

The walk builds a call of each root field and mutation with placeholder arguments, sends it as
a caller of every role the rule leaves out, and expects UNAUTHENTICATED (no token) or
FORBIDDEN at the field, with nothing run: the rule is checked before the resolver, so the
placeholders never reach a service.
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)

from models.enums import Role
from schema import schema
from schema.permissions import allow, anyone, rule_of
from tests.support import codes, gql, make_merchant, make_user, token_for

ROOTS = ("Query", "Mutation", "Subscription")
PLACEHOLDERS = {
    "ID": "bm90aGluZzox",
    "String": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "Money": "1.00",
    "Date": "2026-01-01",
    "DateTime": "2026-01-01T00:00:00+00:00",
}


def fields_without_one_rule(built: strawberry.Schema) -> list[str]:
    """Root fields whose extensions do not declare exactly one role rule."""
    missing = []
    for root in ROOTS:
        definition = built.get_type_by_name(root)
        for field in getattr(definition, "fields", None) or []:
            if rule_of(field.extensions) is None:
                missing.append(f"{root}.{field.name}")
    return missing


def test_every_root_field_declares_exactly_one_rule():
    assert fields_without_one_rule(schema) == []


def test_the_walk_finds_a_field_without_a_rule_or_with_two():
    """Broken on purpose: the check above is not vacuous."""

    @strawberry.type
    class Query:
        @strawberry.field(extensions=[anyone()])
        def ruled(self) -> int:
            return 1

        @strawberry.field
        def unruled(self) -> int:
            return 1

        @strawberry.field(extensions=[allow(Role.REGULATOR), allow(Role.CONSUMER)])
        def twice(self) -> int:
            return 1

    assert fields_without_one_rule(strawberry.Schema(query=Query)) == [
        "Query.unruled",
        "Query.twice",
    ]


def _placeholder(kind: GraphQLInputType) -> Any:
    if isinstance(kind, GraphQLNonNull):
        return _placeholder(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [_placeholder(kind.of_type)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {
            name: _placeholder(field.type)
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        }
    assert isinstance(kind, GraphQLScalarType)
    return PLACEHOLDERS[kind.name]


def _call(root: str, name: str, field: GraphQLField) -> tuple[str, dict[str, Any]]:
    """A document calling the field with every required argument, and its variables."""
    required = {
        argument: spec
        for argument, spec in field.args.items()
        if isinstance(spec.type, GraphQLNonNull)
    }
    declared = ", ".join(f"${argument}: {spec.type}" for argument, spec in required.items())
    passed = ", ".join(f"{argument}: ${argument}" for argument in required)
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    operation = "query" if root == "Query" else "mutation"
    document = (
        f"{operation} Walk{f'({declared})' if declared else ''} "
        f"{{ {name}{f'({passed})' if passed else ''}{selection} }}"
    )
    return document, {argument: _placeholder(spec.type) for argument, spec in required.items()}


def _walk() -> list[tuple[str, str, tuple[Role, ...]]]:
    calls = []
    for root in ("Query", "Mutation"):
        definition = schema.get_type_by_name(root)
        for field in getattr(definition, "fields", None) or []:
            roles = rule_of(field.extensions)
            if roles:  # () is anyone: nobody to refuse
                calls.append((root, field.name, roles))
    return calls


@pytest.mark.parametrize(("root", "name", "roles"), _walk(), ids=lambda value: str(value))
async def test_each_rule_refuses_the_callers_it_leaves_out(client, root, name, roles):
    graphql_type = schema._schema.get_type(root)
    field_name = schema.config.name_converter.apply_naming_config(name)
    field = graphql_type.fields[field_name]  # type: ignore[union-attr]
    document, variables = _call(root, field_name, field)
    callers: dict[str, str | None] = {"anonymous": None}
    for role in (Role.CONSUMER, Role.MERCHANT, Role.REGULATOR):
        if role in roles:
            continue
        if role is Role.MERCHANT:
            callers[role.value] = (await make_merchant()).token
        else:
            callers[role.value] = token_for(await make_user(role))
    for caller, token in callers.items():
        result = await gql(client, document, variables, token)
        expected = "UNAUTHENTICATED" if token is None else "FORBIDDEN"
        assert codes(result) == [expected], (caller, document, result)
        assert result["errors"][0]["path"] == [field_name], (caller, result)
