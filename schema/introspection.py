"""What a production server tells callers about its schema (DESIGN.md "API conventions").

In development everything is open. In production only REGULATOR tokens may introspect
(`__schema`, `__type`; FORBIDDEN for anyone else: regulator tools are introspection-driven, the
mini-programs are not), and no error suggests a name the caller did not send: "Did you mean"
for fields, arguments, types, enum values and input fields, in the document and in variables,
is left out (graphql-core's `hide_suggestions`, in validation and in execution).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode, ExecutableDefinitionNode, FieldNode, GraphQLError, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from core.errors import ErrorCode
from core.principal import ANONYMOUS, Principal

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
FORBIDDEN_MESSAGE = "Introspection is open to regulators only"


class RegulatorIntrospection(SchemaExtension):
    """Refuses `__schema` and `__type` to anyone but a regulator, before validation."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if execution.pre_execution_errors is None and document is not None:
            principal: Principal = getattr(execution.context, "principal", None) or ANONYMOUS
            asked = introspection_fields(document)
            if asked and not principal.is_regulator:
                execution.pre_execution_errors = [
                    GraphQLError(
                        FORBIDDEN_MESSAGE,
                        nodes=asked[:1],
                        extensions={"code": ErrorCode.FORBIDDEN.value},
                    )
                ]
        yield


def introspection_fields(document: DocumentNode) -> list[FieldNode]:
    """Every `__schema` and `__type` field of the document, fragments included."""
    found: list[FieldNode] = []
    pending = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, ExecutableDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION_FIELDS:
                found.append(selection)
            selection_set = getattr(selection, "selection_set", None)
            if selection_set is not None:
                pending.append(selection_set)
    return found


class ValidationWithoutSuggestions(SchemaExtension):
    """Validates the document as strawberry would, with graphql-core's suggestions hidden."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if execution.pre_execution_errors is None and document is not None:
            # Set before strawberry's own validation, which then does not run.
            execution.pre_execution_errors = validate(
                execution.schema._schema,
                document,
                (*execution.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule),
                hide_suggestions=True,
            )
        yield
