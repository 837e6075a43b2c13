"""Limits on what one operation may ask for, checked before it is parsed and validated.

Before parsing: the document's length, so that no request makes the parser read more than a
bounded text. While parsing: its tokens, comments included (strawberry's MaxTokensLimiter stops
graphql-core's parser there, and its syntax error becomes ours).

After parsing, before validation: depth, aliases, directives, repeats and an estimated cost,
measured in one walk over the document, fragments included: a spread counts as often as it is
spread, as it would run that often (each fragment is measured once, so spreads nested a thousand
times cost nothing to count). A refused document is never validated: graphql-core's validation
is quadratic in fields repeated under one name, which is why repeats have a limit of their own.

Over any limit the operation is refused with QUERY_TOO_COMPLEX naming the limit and the figure.
A query accepted with a cost over `heavy_cost` waits for one of `heavy_at_once` places per
process before it runs, so that a few heavy queries at once take turns instead of stalling
every other request together.

Cost: 1 per field; the edges (or nodes) of a connection weigh its `first` (default 20, at most
100: what the connection would return), any other list 20, nested lists multiplied.
Introspection (`__schema`, `__type`) answers from the schema, whatever the data, so it counts
toward neither depth nor cost; what could blow it up is listing types inside the fields of
types inside ..., so at most three introspection lists may nest on one path (the standard
introspection query nests types, fields and args).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    Lexer,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    VariableNode,
    get_named_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from services.errors import ErrorCode
from services.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# Lists of introspection results one path may nest (__schema.types, __Type.fields, __Field.args).
MAX_INTROSPECTION_LISTS = 3
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


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


@dataclass(frozen=True, slots=True)
class Measure:
    """What a selection set asks for."""

    depth: int = 0
    aliases: int = 0
    directives: int = 0
    cost: int = 0
    repeats: int = 0
    introspection_lists: int = 0

    def beside(self, other: Measure) -> Measure:
        """This and a sibling selection together."""
        return Measure(
            depth=max(self.depth, other.depth),
            aliases=self.aliases + other.aliases,
            directives=self.directives + other.directives,
            cost=self.cost + other.cost,
            repeats=max(self.repeats, other.repeats),
            introspection_lists=max(self.introspection_lists, other.introspection_lists),
        )

    def with_directives(self, count: int) -> Measure:
        return Measure(
            self.depth,
            self.aliases,
            self.directives + count,
            self.cost,
            self.repeats,
            self.introspection_lists,
        )


def measure(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None = None
) -> Measure:
    """The document's figures: the deepest and costliest operation, all aliases and directives."""
    walk = _Walk(schema, document, variables or {})
    total = Measure()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total = total.beside(walk.operation(definition))
    return total


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
    """Tokens of a document, comments included, counted no further than `stop_after` + 1.
    A text the lexer cannot read is counted up to that point (parsing then says what is wrong)."""
    lexer = Lexer(Source(text))
    count = 0
    try:
        while count <= stop_after:
            token = lexer.advance()
            skipped = lexer.last_token.next
            while skipped is not None and skipped is not token:  # the comments passed over
                count += 1
                skipped = skipped.next
            if token.kind is TokenKind.EOF:
                break
            count += 1
    except GraphQLSyntaxError:
        pass
    return count


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
        query = self.execution_context.query or ""
        limits = self.limits
        if len(query) > limits.max_query_length:
            raise too_complex(
                f"The operation is too complex: its document is {len(query):,} characters long, "
                f"over the limit of {limits.max_query_length:,} (setting max_query_length)",
                "max_query_length",
                limits.max_query_length,
                len(query),
            )
        yield
        # The parser stops at max_tokens (MaxTokensLimiter) with a syntax error like any other;
        # a text over the limit is refused as too complex, whatever else is wrong with it. The
        # tokens are counted on this path only (a token is at least one character).
        for error in self.execution_context.pre_execution_errors or []:
            if (
                isinstance(error, GraphQLSyntaxError)
                and len(query) > limits.max_tokens
                and count_tokens(query, limits.max_tokens) > limits.max_tokens
            ):
                # The error strawberry returns is this object: it is relabelled in place.
                error.message = (
                    "The operation is too complex: its document has more than "
                    f"{limits.max_tokens:,} tokens, the limit (setting max_tokens)"
                )
                error.extensions = too_complex("", "max_tokens", limits.max_tokens, None).extensions
                error.locations = error.positions = error.nodes = None
                error.source = None

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


@dataclass(frozen=True, slots=True)
class _Level:
    """A measured selection set and the response names selected at its own level."""

    measure: Measure
    names: Counter[str]


class _Walk:
    """Measures operations; each fragment once per way it is reached."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.defaults: dict[str, Any] = {}
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.measured: dict[tuple[str, int | None, bool], _Level] = {}
        self.entered: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        self.measured = {}  # fragments may weigh differently under another operation's defaults
        self.defaults = {
            definition.variable.name.value: int(definition.default_value.value)
            for definition in operation.variable_definitions or ()
            if isinstance(definition.default_value, IntValueNode)
        }
        root = self.schema.get_root_type(operation.operation)
        directives = len(operation.directives or ()) + sum(
            len(definition.directives or ()) for definition in operation.variable_definitions or ()
        )
        level = self.level(operation.selection_set, root, None, False)
        return self.closed(level).with_directives(directives)

    @staticmethod
    def closed(level: _Level) -> Measure:
        """The measure of a whole selection set, its own repeats included."""
        repeats = max(level.names.values(), default=0)
        found = level.measure
        if repeats <= found.repeats:
            return found
        return Measure(
            found.depth,
            found.aliases,
            found.directives,
            found.cost,
            repeats,
            found.introspection_lists,
        )

    def level(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        page: int | None,
        introspecting: bool,
    ) -> _Level:
        total = Measure()
        names: Counter[str] = Counter()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found = self.field(selection, parent, page, introspecting)
                names[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                inner = self.level(selection.selection_set, on, page, introspecting)
                found = inner.measure.with_directives(len(selection.directives or ()))
                names.update(inner.names)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.spread(selection, page, introspecting)
                found = inner.measure.with_directives(len(selection.directives or ()))
                names.update(inner.names)
            else:  # pragma: no cover - graphql-core has no other kind of selection
                continue
            total = total.beside(found)
        return _Level(total, names)

    def spread(self, spread: FragmentSpreadNode, page: int | None, introspecting: bool) -> _Level:
        name = spread.name.value
        fragment = self.fragments.get(name)
        if fragment is None or name in self.entered:
            # Unknown or cyclic: validation refuses the document after us.
            return _Level(Measure(), Counter())
        key = (name, page, introspecting)
        if key not in self.measured:
            self.entered.add(name)
            try:
                on = self.schema.get_type(fragment.type_condition.name.value)
                inner = self.level(fragment.selection_set, on, page, introspecting)
                own = inner.measure.with_directives(len(fragment.directives or ()))
                self.measured[key] = _Level(own, inner.names)
            finally:
                self.entered.discard(name)
        return self.measured[key]

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        page: int | None,
        introspecting: bool,
    ) -> Measure:
        definition = self._definition(parent, node.name.value)
        introspecting = introspecting or node.name.value in _INTROSPECTION_ROOTS
        aliases = 1 if node.alias else 0
        directives = len(node.directives or ())
        factor, child_page, is_list, named = 1, None, False, None
        if definition is not None:
            nullable = definition.type
            if isinstance(nullable, GraphQLNonNull):
                nullable = nullable.of_type
            is_list = isinstance(nullable, GraphQLList)
            named = get_named_type(definition.type)
            if "first" in definition.args:
                # A connection: its edges weigh the page it would return.
                child_page = self._page_size(node)
            elif is_list:
                factor = page if page is not None else DEFAULT_PAGE_SIZE
        inner = Measure()
        if node.selection_set is not None:
            inner = self.closed(self.level(node.selection_set, named, child_page, introspecting))
        if introspecting:
            return Measure(
                aliases=aliases + inner.aliases,
                directives=directives + inner.directives,
                repeats=inner.repeats,
                introspection_lists=inner.introspection_lists + (1 if is_list else 0),
            )
        return Measure(
            depth=1 + inner.depth,
            aliases=aliases + inner.aliases,
            directives=directives + inner.directives,
            cost=1 + factor * inner.cost,
            repeats=inner.repeats,
            introspection_lists=inner.introspection_lists,
        )

    def _definition(self, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is not None and parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return parent.fields.get(name)
        return None  # a union, a scalar, or a type the schema does not have

    def _page_size(self, node: FieldNode) -> int:
        """`first` as the connection would take it: its default, or capped at its maximum."""
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value: Any = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                name = argument.value.name.value
                value = self.variables.get(name, self.defaults.get(name))
            if isinstance(value, int) and not isinstance(value, bool):
                return min(max(value, 0), MAX_PAGE_SIZE)
        return DEFAULT_PAGE_SIZE
