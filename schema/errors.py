"""Every error leaves with an ErrorCode; unexpected ones leave with nothing else.

The extension rewrites the errors of each operation: domain errors keep their
message and code, GraphQL's own parse and validation errors get theirs, and any
other exception becomes INTERNAL_SERVER_ERROR with the request id, its details
logged on the server only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from services.errors import DomainError, ErrorCode

log = logging.getLogger("anfu.errors")

INTERNAL_MESSAGE = "Internal server error"


def classify(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """The error as the client may see it, with `extensions.code` set."""
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, DomainError):
        message = original.message if error.path else _input_message(error, original)
        return _with_code(error, original.code, message)
    if isinstance(error, GraphQLSyntaxError):
        return _with_code(error, ErrorCode.GRAPHQL_PARSE_FAILED)
    if original is None:
        code = (
            ErrorCode.BAD_USER_INPUT
            if error.message.startswith("Variable '$")
            else ErrorCode.GRAPHQL_VALIDATION_FAILED
        )
        if error.path:
            # An error graphql-core raised during execution, e.g. a null in a non-null field.
            code = ErrorCode.INTERNAL_SERVER_ERROR
        return _with_code(error, code)
    log.error(
        "request %s failed at %s",
        request_id,
        ".".join(str(p) for p in error.path or ()),
        exc_info=(type(original), original, original.__traceback__),
    )
    masked = GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id},
    )
    return masked


def _input_message(error: GraphQLError, original: DomainError) -> str:
    """Keep graphql-core's pointer to the bad variable or argument, then our reason."""
    head = error.message.split(";")[0]
    return f"{head}: {original.message}" if head != error.message else original.message


def _with_code(error: GraphQLError, code: ErrorCode, message: str | None = None) -> GraphQLError:
    return GraphQLError(
        message if message is not None else error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code.value},
    )


def classify_all(errors: list[GraphQLError] | None, request_id: str | None) -> list[GraphQLError]:
    return [classify(error, request_id) for error in errors or []]


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
            request_id = getattr(self.execution_context.context, "request_id", None)
            result.errors = classify_all(result.errors, request_id)
