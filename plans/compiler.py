"""From a validated document, its operation and the caller's kind to a Plan, or None.

A plan answers the selections it understands and nothing else: any field, argument, directive,
fragment on another type or role this module does not know makes the whole operation
unplanned, and the general executor runs it. Who may see what is decided here, once per
(document, operation, caller kind): anonymous callers and consumers see ACTIVE merchants and
their ACTIVE card products (auth/scoping.py readable_merchants, schema/merchants.py
Merchant.cardProducts); the wallet is the consumer's own (allow(Role.CONSUMER)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    TypeNode,
    ValueNode,
    VariableNode,
)

from plans import values
from plans.mapping import CARD, CARD_PRODUCT, CATEGORY, MERCHANT, STORE, Table

# Caller kinds a plan may be built for (anything else: the general executor).
ANONYMOUS = "anonymous"
CONSUMER = "consumer"
PUBLIC_READERS = frozenset({ANONYMOUS, CONSUMER})


class Unsupported(Exception):
    """Something in the operation a plan does not answer."""


@dataclass(frozen=True, slots=True)
class Arg:
    """An argument's value: a literal of the document or a variable of the operation."""

    variable: str | None = None
    literal: Any = None

    def value(self, variables: dict[str, Any]) -> Any:
        return variables[self.variable] if self.variable is not None else self.literal


# A selection: (response key, what, detail), in the order the document asks for them.
Selection = tuple[tuple[str, str, Any], ...]


@dataclass(frozen=True, slots=True)
class Node:
    """The selection on rows of one table, read under a column-name prefix."""

    table: Table
    prefix: str
    fields: Selection

    def columns(self) -> list[str]:
        """The table's columns the selection reads (the key always: joins and ids need it)."""
        needed = [self.table.key]
        for _key, what, detail in self.fields:
            if what == "column" and detail.column not in needed:
                needed.append(detail.column)
        return needed


@dataclass(frozen=True, slots=True)
class Conn:
    """A connection of `node` rows, paged by offset with `first` and `after`."""

    node: Node
    fields: Selection
    first: Arg
    after: Arg
    status: Arg


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled query operation: its root selection and its variables."""

    name: str | None
    root: Selection
    variables: dict[str, values.Variable]
    kind: str


def compile_operation(document: DocumentNode, operation_name: str | None, kind: str) -> Plan | None:
    """The plan of the operation for a caller of `kind`, or None when it has no plan."""
    if kind not in PUBLIC_READERS:
        return None
    try:
        return _Compiler(document, operation_name, kind).plan()
    except Unsupported:
        return None


class _Compiler:
    def __init__(self, document: DocumentNode, operation_name: str | None, kind: str) -> None:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            operations = [o for o in operations if o.name and o.name.value == operation_name]
        if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
            raise Unsupported
        self.operation = operations[0]
        if self.operation.directives:
            raise Unsupported
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.kind = kind
        self.variables: dict[str, values.Variable] = {}
        for definition in self.operation.variable_definitions or ():
            if definition.directives:
                raise Unsupported
            name = definition.variable.name.value
            non_null, type_name = _type_of(definition.type)
            default = values.MISSING
            if definition.default_value is not None:
                default = _literal(definition.default_value)
            self.variables[name] = values.Variable(name, type_name, non_null, default)

    def plan(self) -> Plan:
        root: list[tuple[str, str, Any]] = []
        for key, nodes in self._collect([self.operation.selection_set], "Query"):
            name = nodes[0].name.value
            if name == "__typename":
                root.append((key, "typename", "Query"))
            elif name == "merchants":
                args = self._args(
                    nodes[0], {"filter": "filter", "first": "first", "after": "after"}
                )
                conn = self._connection(nodes, "Merchant", self._merchant, "m", args)
                root.append((key, "merchants", conn))
            elif name == "wallet" and self.kind == CONSUMER:
                self._args(nodes[0], {})
                root.append((key, "wallet", self._wallet(nodes)))
            else:
                raise Unsupported
        unused = [v for v in self.variables.values() if not v.checks]
        if unused or not root or not values.types_match(self.variables):
            raise Unsupported
        operation_name = self.operation.name.value if self.operation.name else None
        return Plan(operation_name, tuple(root), self.variables, self.kind)

    # Selections

    def _collect(
        self, selection_sets: list[SelectionSetNode | None], type_name: str
    ) -> list[tuple[str, list[FieldNode]]]:
        """Fields by response key in document order, through fragments on `type_name`."""
        found: dict[str, list[FieldNode]] = {}

        def walk(selection_set: SelectionSetNode | None) -> None:
            if selection_set is None:
                raise Unsupported
            for selection in selection_set.selections:
                if selection.directives:
                    raise Unsupported
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    found.setdefault(key, []).append(selection)
                    continue
                if isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments.get(selection.name.value)
                    if fragment is None or fragment.directives:
                        raise Unsupported
                    condition: NamedTypeNode | None = fragment.type_condition
                    inner = fragment.selection_set
                elif isinstance(selection, InlineFragmentNode):
                    condition, inner = selection.type_condition, selection.selection_set
                else:
                    raise Unsupported
                if condition is not None and condition.name.value != type_name:
                    raise Unsupported
                walk(inner)

        for selection_set in selection_sets:
            walk(selection_set)
        return list(found.items())

    def _sub(self, nodes: list[FieldNode], type_name: str) -> list[tuple[str, list[FieldNode]]]:
        return self._collect([node.selection_set for node in nodes], type_name)

    def _args(self, node: FieldNode, allowed: dict[str, str]) -> dict[str, Arg]:
        """The field's arguments, each checked as `allowed` says (name → check)."""
        args: dict[str, Arg] = {}
        for argument in node.arguments or ():
            name = argument.name.value
            check = allowed.get(name)
            if check is None:
                raise Unsupported
            if isinstance(argument.value, VariableNode):
                variable = self.variables.get(argument.value.name.value)
                if variable is None:
                    raise Unsupported
                variable.checks.append(check)
                args[name] = Arg(variable=variable.name)
            else:
                literal = _literal(argument.value)
                if not values.acceptable(check, literal):
                    raise Unsupported
                args[name] = Arg(literal=literal)
        return args

    def _leaf(self, nodes: list[FieldNode]) -> None:
        if nodes[0].arguments or nodes[0].selection_set is not None:
            raise Unsupported

    def _node(self, table: Table, prefix: str, nodes: list[FieldNode], extra: Any) -> Node:
        fields: list[tuple[str, str, Any]] = []
        for key, subs in self._sub(nodes, table.type_name):
            name = subs[0].name.value
            if name == "__typename":
                self._leaf(subs)
                fields.append((key, "typename", table.type_name))
            elif name in table.columns:
                self._leaf(subs)
                fields.append((key, "column", table.columns[name]))
            elif extra is not None:
                fields.append(extra(key, name, subs))
            else:
                raise Unsupported
        return Node(table, prefix, tuple(fields))

    def _connection(
        self, nodes: list[FieldNode], type_name: str, node_extra: Any, prefix: str, args: dict
    ) -> Conn:
        node: Node | None = None
        fields: list[tuple[str, str, Any]] = []
        table = {"Merchant": MERCHANT, "Store": STORE, "CardProduct": CARD_PRODUCT, "Card": CARD}
        for key, subs in self._sub(nodes, f"{type_name}Connection"):
            name = subs[0].name.value
            if name in ("__typename", "totalCount"):
                self._leaf(subs)
                fields.append((key, name, f"{type_name}Connection"))
            elif name == "pageInfo":
                fields.append((key, name, self._page_info(subs)))
            elif name == "edges":
                edge: list[tuple[str, str, Any]] = []
                for edge_key, edge_subs in self._sub(subs, f"{type_name}Edge"):
                    edge_name = edge_subs[0].name.value
                    if edge_name in ("__typename", "cursor"):
                        self._leaf(edge_subs)
                        edge.append((edge_key, edge_name, f"{type_name}Edge"))
                    elif edge_name == "node":
                        found = self._node(table[type_name], prefix, edge_subs, node_extra)
                        if node is not None and node != found:
                            raise Unsupported  # two selections of the nodes: rare, not planned
                        node = found
                        edge.append((edge_key, "node", None))
                    else:
                        raise Unsupported
                fields.append((key, "edges", tuple(edge)))
            else:
                raise Unsupported
        if node is None:
            node = Node(table[type_name], prefix, ())
        return Conn(
            node,
            tuple(fields),
            args.get("first", Arg()),
            args.get("after", Arg()),
            args.get("status", Arg()),
        )

    def _page_info(self, nodes: list[FieldNode]) -> Selection:
        known = ("__typename", "hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
        fields: list[tuple[str, str, Any]] = []
        for key, subs in self._sub(nodes, "PageInfo"):
            name = subs[0].name.value
            if name not in known:
                raise Unsupported
            self._leaf(subs)
            fields.append((key, name, "PageInfo"))
        return tuple(fields)

    # Types

    def _merchant(self, key: str, name: str, nodes: list[FieldNode]) -> tuple[str, str, Any]:
        if name == "creditRating":
            rating: list[tuple[str, str, Any]] = []
            for sub_key, subs in self._sub(nodes, "CreditRating"):
                sub_name = subs[0].name.value
                if sub_name not in ("__typename", "grade", "score"):
                    raise Unsupported
                self._leaf(subs)
                rating.append((sub_key, sub_name, "CreditRating"))
            return key, "rating", tuple(rating)
        if name == "category":
            self._args(nodes[0], {})
            return key, "category", self._node(CATEGORY, "c", nodes, None)
        if name == "stores":
            args = self._args(nodes[0], {"first": "first", "after": "after"})
            return key, "stores", self._connection(nodes, "Store", None, "s", args)
        if name == "cardProducts":
            checks = {"status": "product_status", "first": "first", "after": "after"}
            args = self._args(nodes[0], checks)
            conn = self._connection(nodes, "CardProduct", self._product, "p", args)
            return key, "products", conn
        raise Unsupported

    def _product(self, key: str, name: str, nodes: list[FieldNode]) -> tuple[str, str, Any]:
        if name == "soldCount":
            self._leaf(nodes)
            return key, "sold", None
        raise Unsupported

    def _wallet(self, nodes: list[FieldNode]) -> Selection:
        fields: list[tuple[str, str, Any]] = []
        for key, subs in self._sub(nodes, "Wallet"):
            name = subs[0].name.value
            if name in ("__typename", "totalBalance", "totalCashValue"):
                self._leaf(subs)
                fields.append((key, name, "Wallet"))
            elif name == "cards":
                checks = {"status": "card_status", "first": "first", "after": "after"}
                args = self._args(subs[0], checks)
                fields.append((key, "cards", self._connection(subs, "Card", self._card, "k", args)))
            else:
                raise Unsupported
        return tuple(fields)

    def _card(self, key: str, name: str, nodes: list[FieldNode]) -> tuple[str, str, Any]:
        # A card's merchant and product are read whatever their status (schema/cards.py).
        if name == "status":
            self._leaf(nodes)
            return key, "card_status", None
        if name == "merchant":
            self._args(nodes[0], {})
            return key, "object", self._node(MERCHANT, "cm", nodes, None)
        if name == "product":
            self._args(nodes[0], {})
            return key, "object", self._node(CARD_PRODUCT, "cp", nodes, None)
        raise Unsupported


def _type_of(node: TypeNode) -> tuple[bool, str]:
    if isinstance(node, NonNullTypeNode):
        return True, _type_of(node.type)[1]
    if isinstance(node, ListTypeNode):
        raise Unsupported
    assert isinstance(node, NamedTypeNode)
    return False, node.name.value


def _literal(node: ValueNode) -> Any:
    """A literal the plans take: null, an integer, a string or an enum value."""
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        raise Unsupported
    raise Unsupported
