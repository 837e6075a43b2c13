"""Limits on what one operation may ask for, checked before it is parsed and validated.

Before parsing: the document's length, so that no request makes the parser read more than a
bounded text, and its tokens, comments included, counted by a regular expression (C speed) so
that a document over the limit never reaches graphql-core's lexer, the costliest step of a
refusal. strawberry's MaxTokensLimiter still stops the parser there as a backstop. Documents
are parsed through a bounded cache: the same text (a client's operation, or the same attack
sent again) is parsed once.

After parsing, before validation: depth, aliases, directives, repeats and an estimated cost,
measured in one walk over the document (schema/cost.py). A refused document is never
validated: graphql-core's validation is quadratic in fields repeated under one name, which is
why repeats have a limit of their own. At most three introspection lists may nest on one path
(the standard introspection query nests types, fields and args).

Over any limit the operation is refused with QUERY_TOO_COMPLEX naming the limit and the figure.
A query accepted with a cost over `heavy_cost` waits for one of `heavy_at_once` places per
process before it runs, so that a few heavy queries at once take turns instead of stalling
every other request together.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import re
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError, parse
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from core.errors import ErrorCode
from schema.cost import Measure, measure

# Lists of introspection results one path may nest (__schema.types, __Type.fields, __Field.args).
MAX_INTROSPECTION_LISTS = 3
# Distinct document texts whose parsed form a process keeps.
PARSED_DOCUMENTS_KEPT = 256

# One GraphQL token, as graphql-core's lexer reads it (a comment is one too); white space,
# commas and a byte-order mark lie between tokens. On a text the lexer cannot read the figure
# may differ from the lexer's, which does not matter: such a text is refused either way.
_TOKEN = re.compile(
    r'"""(?:\\"""|[^"]|"(?!""))*+"""'  # block string
    r'|"(?:\\.|[^"\\\n\r])*+"'  # string
    r"|#[^\n\r]*+"  # comment
    r"|\.\.\."
    r"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    r"|[_A-Za-z][_0-9A-Za-z]*+"
    r"|[!$&():=@\[\]{}|]"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """The most one operation may ask for (settings.py has each under the same name)."""

    max_depth: int = 12
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 50
    max_cost: int = 5000
    # Characters of document text, comments and white space included.
    max_query_length: int = 32_768
    # Fields selected under one name in one selection set (fragments included).
    max_repeats: int = 20
    # Queries costing more than this run no more than `heavy_at_once` at a time in a process.
    heavy_cost: int = 2500
    heavy_at_once: int = 1


def refusals(found: Measure, limits: Limits) -> list[GraphQLError]:
    """One QUERY_TOO_COMPLEX error for each limit the figures are over."""
    checks = (
        ("max_depth", "depth", found.depth, limits.max_depth),
        ("max_aliases", "number of aliases", found.aliases, limits.max_aliases),
        ("max_directives", "number of directives", found.directives, limits.max_directives),
        ("max_repeats", "most repeated field", found.repeats, limits.max_repeats),
        ("max_cost", "estimated cost", found.cost, limits.max_cost),
    )
    errors = [
        too_complex(
            f"The operation is too complex: its {what} is {figure:,}, over the limit of "
            f"{limit:,} (setting {setting})",
            setting,
            limit,
            figure,
        )
        for setting, what, figure, limit in checks
        if figure > limit
    ]
    if found.introspection_lists > MAX_INTROSPECTION_LISTS:
        errors.append(
            too_complex(
                f"The operation is too complex: it nests {found.introspection_lists} lists of "
                f"introspection results on one path, over the limit of {MAX_INTROSPECTION_LISTS}",
                "introspection_lists",
                MAX_INTROSPECTION_LISTS,
                found.introspection_lists,
            )
        )
    return errors


def too_complex(message: str, limit: str, maximum: int, found: int | None) -> GraphQLError:
    """QUERY_TOO_COMPLEX, with the limit's name, its value and (when known) the figure."""
    extensions: dict[str, Any] = {"code": ErrorCode.QUERY_TOO_COMPLEX.value, "limit": limit}
    extensions["maximum"] = maximum
    if found is not None:
        extensions["found"] = found
    return GraphQLError(message, extensions=extensions)


def count_tokens(text: str, stop_after: int) -> int:
    """Tokens of a document, comments included, counted no further than `stop_after` + 1."""
    return sum(1 for _ in itertools.islice(_TOKEN.finditer(text), stop_after + 1))


@functools.lru_cache(maxsize=PARSED_DOCUMENTS_KEPT)
def parse_document(text: str, max_tokens: int | None) -> DocumentNode:
    """The parsed document (shared between requests: nothing may change it)."""
    return parse(text, max_tokens=max_tokens)


class HeavyLane:
    """The places for heavy queries in this process (a semaphore per event loop)."""

    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        self._places: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._places = weakref.WeakKeyDictionary()

    def places(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._places:
            self._places[loop] = asyncio.Semaphore(self.at_once)
        return self._places[loop]


class OperationLimits(SchemaExtension):
    """Refuses an operation over the limits before it is parsed or validated, and lets heavy
    queries run a few at a time."""

    def __init__(self, limits: Limits, lane: HeavyLane | None = None) -> None:
        self.limits = limits
        self.lane = lane
        self.cost = 0

    async def on_parse(self) -> AsyncIterator[None]:
        # Let requests waiting on the database go on before this one reads (and parses) its
        # text: a flood of requests refused here then delays the others by one step at a time.
        await asyncio.sleep(0)
        # An error raised here ends the operation with it as the only error.
        execution = self.execution_context
        query = execution.query or ""
        limits = self.limits
        if len(query) > limits.max_query_length:
            raise too_complex(
                f"The operation is too complex: its document is {len(query):,} characters long, "
                f"over the limit of {limits.max_query_length:,} (setting max_query_length)",
                "max_query_length",
                limits.max_query_length,
                len(query),
            )
        # A token is at least one character: only a longer text may have too many.
        if (
            len(query) > limits.max_tokens
            and count_tokens(query, limits.max_tokens) > limits.max_tokens
        ):
            raise too_complex(
                "The operation is too complex: its document has more than "
                f"{limits.max_tokens:,} tokens, the limit (setting max_tokens)",
                "max_tokens",
                limits.max_tokens,
                None,
            )
        if query and execution.graphql_document is None:
            # A syntax error leaves the document unset: strawberry parses again and reports it.
            with contextlib.suppress(GraphQLSyntaxError):
                execution.graphql_document = parse_document(
                    query, execution.parse_options.get("max_tokens")
                )
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if execution.pre_execution_errors is None and document is not None:
            await asyncio.sleep(0)  # as before parsing
            schema = execution.schema._schema
            found = measure(schema, document, execution.variables)
            errors = refusals(found, self.limits)
            if errors:
                # Set before validation runs, so strawberry skips it.
                execution.pre_execution_errors = errors
            self.cost = found.cost
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        heavy = self.cost > self.limits.heavy_cost and self.lane is not None
        if heavy and self.execution_context.operation_type is OperationType.QUERY:
            assert self.lane is not None
            async with self.lane.places():
                yield
        else:
            yield
