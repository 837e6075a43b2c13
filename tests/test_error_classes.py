"""schema/errors.py tells input errors from document errors by graphql-core's structure.

Where an error points (a variable's definition, a value in the document) and what it keeps
(`original_error`) decide its code; its English wording never does, so a reworded message in
a graphql-core release cannot move an error from one code to another.
"""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import GraphQLError, parse
from graphql.language import StringValueNode, VariableDefinitionNode
from strawberry.schema.config import StrawberryConfig
from tortoise.exceptions import ValidationError

from core.errors import BadInput
from schema.context import Context
from schema.errors import ErrorCodes, classify
from schema.scalars import SCALARS, Money


def _refuse(_value: object) -> str:
    raise ValueError("not a colour we know")


Colour = NewType("Colour", str)

COLOUR_VARIABLE = "query Paint($colour: Colour!) { paint(colour: $colour) }"
COLOUR_LITERAL = '{ paint(colour: "mauve") }'
INT_LITERAL_OF_THE_WRONG_KIND = '{ count(first: "ten") }'
INT_DEFAULT_OF_THE_WRONG_KIND = 'query Count($first: Int = "ten") { count(first: $first) }'
MONEY_LIST_VARIABLE = "query Amounts($amounts: [Money!]!) { total(amounts: $amounts) }"
MONEY_LITERAL = '{ total(amounts: ["1.00", "2"]) }'


@strawberry.type
class PaintQuery:
    @strawberry.field
    def paint(self, colour: Colour) -> str:
        return colour

    @strawberry.field
    def count(self, first: int = 0) -> int:
        return first

    @strawberry.field
    def total(self, amounts: list[Money]) -> int:
        return sum(amounts)


paint_schema = strawberry.Schema(
    query=PaintQuery,
    config=StrawberryConfig(
        scalar_map={
            **SCALARS,  # type: ignore[dict-item]
            Colour: strawberry.scalar(name="Colour", serialize=str, parse_value=_refuse),
        }
    ),
    extensions=[ErrorCodes],
)


async def _execute(query: str, variables: dict[str, Any] | None = None) -> Any:
    return await paint_schema.execute(query, variable_values=variables, context_value=Context())


def _codes(result: Any) -> list[str]:
    return [error.extensions["code"] for error in result.errors or []]


# Over GraphQL


async def test_a_variable_a_scalar_refuses_with_a_plain_exception_is_bad_user_input():
    result = await _execute(COLOUR_VARIABLE, {"colour": "mauve"})

    assert _codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].message.startswith("Variable '$colour'")


async def test_a_literal_a_scalar_refuses_with_a_plain_exception_is_bad_user_input():
    result = await _execute(COLOUR_LITERAL)

    assert _codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].locations


async def test_a_literal_of_the_wrong_kind_for_a_built_in_scalar_is_a_document_error():
    for query in (INT_LITERAL_OF_THE_WRONG_KIND, INT_DEFAULT_OF_THE_WRONG_KIND):
        result = await _execute(query)

        assert _codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_refused_amount_names_the_variable_the_item_the_type_and_the_reason():
    result = await _execute(MONEY_LIST_VARIABLE, {"amounts": ["1.00", "2"]})

    assert _codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].message == (
        "Variable '$amounts' has invalid value at [1]: Expected value of type 'Money': "
        "'2' is not a valid amount: write yuan with exactly two decimals, e.g. \"700.00\""
    )


async def test_a_refused_amount_literal_names_the_type_and_the_reason():
    result = await _execute(MONEY_LITERAL)

    assert _codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].message == (
        "Expected value of type 'Money': "
        "'2' is not a valid amount: write yuan with exactly two decimals, e.g. \"700.00\""
    )


# The rules themselves, on errors made by hand


def _variable_definition() -> VariableDefinitionNode:
    operation = parse("query Q($first: Int) { count(first: $first) }").definitions[0]
    return operation.variable_definitions[0]  # type: ignore[attr-defined]


def _code(error: GraphQLError) -> str:
    return classify(error, "request-1").extensions["code"]  # type: ignore[index]


def test_an_error_at_a_variable_definition_with_a_reason_is_bad_user_input_whatever_it_says():
    reason = GraphQLError("some reason")

    error = GraphQLError(
        "Wording of a later release", _variable_definition(), original_error=reason
    )

    assert _code(error) == "BAD_USER_INPUT"


def test_an_error_at_a_variable_definition_without_a_reason_is_about_the_document():
    error = GraphQLError(
        "Variable '$first' has invalid value: worded like one", _variable_definition()
    )

    assert _code(error) == "GRAPHQL_VALIDATION_FAILED"


def test_an_error_that_points_nowhere_is_about_the_document_whatever_it_says():
    error = GraphQLError("Expected value of type 'Int', but encountered error 'x'; found: 1.")

    assert _code(error) == "GRAPHQL_VALIDATION_FAILED"


def test_a_value_refused_with_a_domain_error_keeps_its_code_and_reason():
    literal = StringValueNode(value="2")
    refusal = GraphQLError(
        "Expected value of type 'Money', but encountered error 'too big'; found: \"2\".",
        literal,
        original_error=BadInput("too big"),
    )

    classified = classify(refusal, "request-1")

    assert classified.extensions == {"code": "BAD_USER_INPUT"}
    assert classified.message == "Expected value of type 'Money': too big"


def test_a_value_too_long_for_its_column_says_how_long_it_may_be():
    refused = ValidationError("credit_code: Length of '999999999999999999999' 21 > 18")

    classified = classify(GraphQLError("x", path=["registryRecord"], original_error=refused), None)

    assert classified.extensions == {"code": "BAD_USER_INPUT"}
    assert classified.message == "A text value is too long here: at most 18 characters"
