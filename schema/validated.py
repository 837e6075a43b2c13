"""Validation once per document: a document text that passed validation is not validated again.

graphql-core's validation walks the whole document against the schema on every request, about
a sixth of a typical request's CPU time; clients send the same few documents again and again.
A document's validity depends only on its text, the schema and the validation rules in force
(the allowlist adds one), so those are the key. Only successes are kept: a document that fails
is validated again each time (the limits bound what that costs), and its errors are never
shared between requests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

# Distinct (schema, document, rules) a process remembers as valid.
VALID_DOCUMENTS_KEPT = 512

_valid: OrderedDict[tuple[Any, ...], None] = OrderedDict()


class ValidatedDocuments(SchemaExtension):
    """Skips validation of a document already found valid; remembers the ones found valid.
    Runs after the limits (a refused document never gets here) and before validation."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        key = None
        if execution.pre_execution_errors is None and execution.query:
            key = (id(execution.schema), execution.query, tuple(execution.validation_rules))
            if key in _valid:
                _valid.move_to_end(key)
                # Set before validation runs: strawberry (and ours) then skip it.
                execution.pre_execution_errors = []
                key = None
        yield
        if key is not None and execution.pre_execution_errors == []:
            _valid[key] = None
            if len(_valid) > VALID_DOCUMENTS_KEPT:
                _valid.popitem(last=False)
