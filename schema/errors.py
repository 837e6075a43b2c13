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
from graphql import GraphQLError, GraphQLSyntaxError
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
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
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
        # Before execution: a document or variables that do not fit the schema. graphql-core
        # nests its own errors (a null for a non-null variable), and a scalar's parser may
        # raise a plain ValueError for input it cannot read.
        if _is_input_error(error.message):
            return _with_code(error, ErrorCode.BAD_USER_INPUT)
        if original is None or isinstance(original, GraphQLError):
            return _with_code(error, ErrorCode.GRAPHQL_VALIDATION_FAILED)
    return _internal(error, original, request_id)


# Variable values that do not fit their types (graphql-core 3.3 and 3.2 wordings); other
# messages about variables ("is never used", "is not defined") are about the document.
_BAD_VARIABLE = re.compile(
    r"Variable '\$\w+' (has invalid value|got invalid value"
    r"|of required type .* was not provided|of non-null type .* must not be null)"
    r"|Variable values are nested too deeply"
)


def _is_input_error(message: str) -> bool:
    """A variable's value, or a literal a scalar refused, rather than a document that is wrong."""
    return bool(_BAD_VARIABLE.match(message)) or (
        message.startswith("Expected value of type '") and _ENCOUNTERED in message
    )


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


# graphql-core 3.3 words a scalar's refusal as "<where>: Expected value of type 'T', but
# encountered error '<reason>'; found: <value>." and 3.2 as "<where>; <reason>".
_ENCOUNTERED = ", but encountered error '"


def _input_message(error: GraphQLError, original: DomainError) -> str:
    """Keep graphql-core's pointer to the bad variable or argument, then our reason, once."""
    if error.message == original.message:
        return original.message
    head, found, _rest = error.message.partition(_ENCOUNTERED)
    if not found:
        head = error.message.split(";")[0]
        if head == error.message:
            return original.message
    return f"{head}: {original.message}"


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
        result = self.execution_context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            context = self.execution_context.context
            result.errors = classify_all(result.errors, getattr(context, "request_id", None))
            _hint_retry_after(getattr(context, "response", None), result.errors)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each event of a subscription, before it goes out over the WebSocket."""
        if getattr(result, "errors", None):
            request_id = getattr(self.execution_context.context, "request_id", None)
            result.errors = classify_all(result.errors, request_id)
        yield None
