"""Text input is Unicode text, checked once for every String a request brings.

A NUL character or an unpaired surrogate anywhere in a request's variables, or in a string
literal of its document, is BAD_USER_INPUT before any resolver runs: PostgreSQL refuses both
(SQLite stores them), and no name, description, search term or key needs them. graphql-core
reserves the name `String`, so the check cannot live in the scalar; it looks at the raw
variables and the document instead, which covers every argument and input field at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import BREAK, DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from core.errors import BadInput

NUL_OR_SURROGATE = "text may not contain NUL characters or unpaired surrogates"


def text_problem(value: str) -> bool:
    """True when `value` is not text PostgreSQL can store."""
    if "\x00" in value:
        return True
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def bad_variable(variables: dict[str, Any] | None) -> str | None:
    """Where in the variables the first bad string is (`$input.displayName`), or None."""
    stack: list[tuple[str, Any]] = [
        (f"${name}", value) for name, value in (variables or {}).items()
    ]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if text_problem(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and text_problem(key):
                    return path
                stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


class _FirstBadString(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: StringValueNode | None = None

    def enter_string_value(self, node: StringValueNode, *_args: object) -> object:
        if text_problem(node.value):
            self.found = node
            return BREAK
        return None


def bad_literal(document: DocumentNode, query: str | None) -> StringValueNode | None:
    """The first string literal of the document that is not text, or None."""
    # The lexer refuses NUL and surrogate characters in a document: a bad literal needs an
    # escape (\u0000), so a document without one needs no walk.
    if query is not None and "\\u" not in query and not text_problem(query):
        return None
    finder = _FirstBadString()
    visit(document, finder)
    return finder.found


class TextInput(SchemaExtension):
    """Refuses an operation whose variables or string literals hold something not text."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            error = self._error(context.variables, context.graphql_document, context.query)
            if error is not None:
                if context.operation_type is OperationType.SUBSCRIPTION:
                    # A subscription is started whatever the result says: refuse by raising.
                    raise error
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

    @staticmethod
    def _error(
        variables: dict[str, Any] | None, document: DocumentNode, query: str | None
    ) -> GraphQLError | None:
        path = bad_variable(variables)
        if path is not None:
            problem = BadInput(f"Variable {path}: {NUL_OR_SURROGATE}")
            return GraphQLError(problem.message, original_error=problem)
        literal = bad_literal(document, query)
        if literal is not None:
            problem = BadInput(f"A string in the document: {NUL_OR_SURROGATE}")
            return GraphQLError(problem.message, nodes=[literal], original_error=problem)
        return None
