"""Every error leaves with an ErrorCode; unexpected ones leave with nothing else.

The extension rewrites the errors of each operation: domain errors keep their
message and code, GraphQL's own parse and validation errors get theirs, and any
other exception becomes INTERNAL_SERVER_ERROR with the request id, its details
logged on the server only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError, ValueNode, VariableDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult
from tortoise.exceptions import ValidationError

from core.errors import DomainError, ErrorCode

log = logging.getLogger("anfu.errors")

INTERNAL_MESSAGE = "Internal server error"
_CODES = frozenset(code.value for code in ErrorCode)


def classify(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """The error as the client may see it, with `extensions.code` set."""
    if (error.extensions or {}).get("code") in _CODES:
        return error
    original = _root_cause(error)
    if isinstance(original, DomainError):
        message = original.message if error.path else _input_message(error, original)
        return _with_code(error, original.code, message, original.extensions())
    if isinstance(original, ValidationError):
        # The ORM refused a value for a column before any SQL ran: longer than a bounded
        # column (a lookup by an over-long code, a name too long to store) or out of its range.
        return _with_code(error, ErrorCode.BAD_USER_INPUT, _validation_message(original))
    if isinstance(error, GraphQLSyntaxError):
        return _with_code(error, ErrorCode.GRAPHQL_PARSE_FAILED)
    if not error.path:
        # Before execution: a document or variables that do not fit the schema. graphql-core's
        # notices that point nowhere (it gave up after too many errors) get the document's code.
        if _is_input_error(error, original):
            return _with_code(error, ErrorCode.BAD_USER_INPUT)
        if original is None or isinstance(original, GraphQLError):
            return _with_code(error, ErrorCode.GRAPHQL_VALIDATION_FAILED)
    return _internal(error, original, request_id)


def _root_cause(error: GraphQLError) -> BaseException | None:
    """What was raised first: graphql-core nests its errors (a variable's around a scalar's)."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def _is_input_error(error: GraphQLError, original: BaseException | None) -> bool:
    """A variable's value, or a literal a scalar refused, rather than a document that is wrong.

    Told apart by where graphql-core points and what it keeps, never by its wording:
    coerce_variable_values reports a bad value at the variable's definition and keeps the
    reason as `original_error`, while the validation rules about variables (never used, not
    defined, wrong position) keep none. A literal refused by a scalar's own parser points at
    the value and keeps the parser's exception; graphql-core's built-in scalars raise
    GraphQLError instead, and a wrong kind of literal for them is a document error.
    """
    node = error.nodes[0] if error.nodes else None
    if isinstance(node, VariableDefinitionNode):
        return error.original_error is not None
    return isinstance(node, ValueNode) and not isinstance(original, GraphQLError | None)


def _internal(
    error: GraphQLError, original: BaseException | None, request_id: str | None
) -> GraphQLError:
    """Log the fault with the request id; the client learns only that there was one."""
    log.error(
        "request %s failed at %s: %s",
        request_id,
        ".".join(str(p) for p in error.path or ()) or "(operation)",
        error.message,
        exc_info=(type(original), original, original.__traceback__) if original else None,
    )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id},
    )


def _input_message(error: GraphQLError, original: DomainError) -> str:
    """Keep graphql-core's pointer to the bad variable or literal, then our reason, once.

    graphql-core 3.3 words a scalar's refusal "Expected value of type 'T', but encountered
    error '<reason>'; found: <value>." and, for a variable, puts "Variable '$v' has invalid
    value<path>: " before it. We keep the variable, the path and the expected type (the words
    before the first comma: a type's name has none) and give the reason once, unquoted.
    """
    if error.message == original.message:
        return original.message
    refusal = error
    while isinstance(refusal.original_error, GraphQLError):
        refusal = refusal.original_error
    where = error.message.removesuffix(refusal.message)
    expected, comma, _rest = refusal.message.partition(", ")
    return f"{where}{expected}: {original.message}" if comma else f"{where}{original.message}"


# Tortoise's ValidationError carries only text (not the field or the validator), so the
# bound of an over-long value is read from the max-length validator's "Length of ... N > MAX".
_TOO_LONG = re.compile(r"Length of .* (\d+) > (\d+)$", re.DOTALL)


def _validation_message(error: ValidationError) -> str:
    too_long = _TOO_LONG.search(str(error))
    if too_long:
        return f"A text value is too long here: at most {too_long.group(2)} characters"
    return "A value is outside the range this field can hold"


def _with_code(
    error: GraphQLError,
    code: ErrorCode,
    message: str | None = None,
    extra: dict[str, Any] | None = None,
) -> GraphQLError:
    return GraphQLError(
        message if message is not None else error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), **(extra or {}), "code": code.value},
    )


def classify_all(errors: list[GraphQLError] | None, request_id: str | None) -> list[GraphQLError]:
    return [classify(error, request_id) for error in errors or []]


def _hint_retry_after(response: Any, errors: list[GraphQLError]) -> None:
    """A rate-limited HTTP answer says when to come back in Retry-After too."""
    waits: list[int] = [
        wait
        for error in errors
        if (error.extensions or {}).get("code") == ErrorCode.RATE_LIMITED.value
        and isinstance(wait := (error.extensions or {}).get("retryAfter"), int)
    ]
    headers = getattr(response, "headers", None)
    if waits and headers is not None:
        headers["Retry-After"] = str(max(waits))


class ErrorCodes(SchemaExtension):
    """Refuses operations sent with a bad token and gives every error its code."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        auth_error = getattr(context, "auth_error", None)
        if auth_error is not None:
            self.execution_context.result = GraphQLExecutionResult(
                data=None,
                errors=[GraphQLError(auth_error.message, original_error=auth_error)],
            )
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if hasattr(context, "operation_name"):
            context.operation_name = self.execution_context.operation_name
        result = self.execution_context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            result.errors = classify_all(result.errors, getattr(context, "request_id", None))
            _hint_retry_after(getattr(context, "response", None), result.errors)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each event of a subscription, before it goes out over the WebSocket."""
        if getattr(result, "errors", None):
            request_id = getattr(self.execution_context.context, "request_id", None)
            result.errors = classify_all(result.errors, request_id)
        yield None
