"""What an operation asks for, measured in one walk over its document before validation.

Depth, aliases, directives, the most repeated field and an estimated cost, fragments included:
a spread counts as often as it is spread, as it would run that often (each fragment is measured
once, so spreads nested a thousand times cost nothing to count).

Cost: 1 per field; the edges (or nodes) of a connection weigh its `first` (default 20, at most
100: what the connection would return), any other list 20, nested lists multiplied.
Introspection (`__schema`, `__type`) answers from the schema, whatever the data, so it counts
toward neither depth nor cost; what could blow it up is listing types inside the fields of
types inside ..., so schema/limits.py caps how many introspection lists nest on one path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

from services.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


class Measure(NamedTuple):
    """What a selection set asks for (a tuple: a walk builds thousands of them)."""

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
        # Summed in locals rather than a Measure per sibling: a document may select a field
        # hundreds of times side by side before it is refused.
        depth = aliases = directives = cost = repeats = lists = 0
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
            depth = max(depth, found.depth)
            aliases += found.aliases
            directives += found.directives
            cost += found.cost
            repeats = max(repeats, found.repeats)
            lists = max(lists, found.introspection_lists)
        return _Level(Measure(depth, aliases, directives, cost, repeats, lists), names)

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
