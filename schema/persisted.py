"""Persisted operations on every request: Apollo APQ and trusted documents
(services/persisted.py says what they are).

Before the document is parsed, a request that names one by hash (`extensions.persistedQuery`)
or by `documentId` gets its text from the manifest or the APQ store, or PersistedQueryNotFound;
a document sent with a hash must have that hash; in allowlist mode a caller that is not a
regulator runs only manifest documents (refused as a validation error, so that a subscription
over WebSocket is answered like a request over HTTP). Once a document sent with its hash has
passed validation it is kept for the next hash-only request.

This extension comes first in the schema's list: an error raised here ends the operation
before any other extension has started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from graphql import GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

from core.errors import BadInput
from core.principal import ANONYMOUS, Principal
from services.persisted import (
    DOCUMENT_ID_PREFIX,
    PersistedPolicy,
    PersistedQueryNotAllowed,
    PersistedQueryNotFound,
    document_hash,
    is_hash,
)

# A schema run without the server (no policy in its context): open, with no manifest.
DEFAULT_POLICY = PersistedPolicy()
NOT_ALLOWED_MESSAGE = (
    "Only the approved operations of the published manifest run here: "
    "send one by its documentId (sha256:<hash>)"
)


class PersistedQueries(SchemaExtension):
    """Fills in documents named by hash, checks the ones sent with a hash, keeps APQ documents."""

    _to_keep: tuple[str, str] | None = None
    _valid = False

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        policy: PersistedPolicy = getattr(context, "persisted", None) or DEFAULT_POLICY
        principal: Principal = getattr(context, "principal", None) or ANONYMOUS
        self._to_keep = await self._prepare(policy, principal)
        yield
        if self._to_keep is not None and self._valid:
            await policy.store.put(*self._to_keep)

    def on_validate(self) -> Any:
        yield
        self._valid = not self.execution_context.pre_execution_errors

    async def _prepare(
        self, policy: PersistedPolicy, principal: Principal
    ) -> tuple[str, str] | None:
        """Set the operation's document; returns the (hash, document) to keep if it validates."""
        execution = self.execution_context
        extensions = execution.operation_extensions or {}
        apq_hash = _apq_hash(extensions.get("persistedQuery"))
        document_id = _document_id(extensions.get("documentId"))
        if apq_hash and document_id and apq_hash != document_id:
            raise BadInput("documentId and extensions.persistedQuery name different documents")
        named = document_id or apq_hash
        unrestricted = not policy.allowlist or principal.is_regulator
        query = execution.query
        if not query:
            if named is None:
                return None  # strawberry answers that there is no query
            execution.query = await _named_document(policy, named, document_id, unrestricted)
            return None
        if named is not None and document_hash(query) != named:
            raise BadInput("provided sha does not match query")
        if not unrestricted and policy.trusted(query) is None:
            execution.validation_rules = (*execution.validation_rules, NotAllowed)
            return None
        if apq_hash is not None and policy.manifest.get(apq_hash) is None:
            return apq_hash, query
        return None


class NotAllowed(ValidationRule):
    """Allowlist mode: the document is not a trusted one. A validation rule rather than an
    exception: an exception raised before a WebSocket subscription starts escapes it unanswered,
    and strawberry's ValidationCache replaces errors an extension would set by hand."""

    def enter_document(self, *_args: Any) -> None:
        self.report_error(
            GraphQLError(
                NOT_ALLOWED_MESSAGE, original_error=PersistedQueryNotAllowed(NOT_ALLOWED_MESSAGE)
            )
        )


async def _named_document(
    policy: PersistedPolicy, named: str, document_id: str | None, unrestricted: bool
) -> str:
    trusted = policy.manifest.get(named)
    if trusted is not None:
        return trusted.document
    if document_id is not None:
        raise PersistedQueryNotFound(f"No trusted document {DOCUMENT_ID_PREFIX}{named}")
    # APQ documents are any caller's documents: in allowlist mode only regulators may use them.
    stored = await policy.store.get(named) if unrestricted else None
    if stored is None:
        raise PersistedQueryNotFound()
    return stored


def _apq_hash(persisted: object) -> str | None:
    """The hash of `extensions.persistedQuery`, which must be {version: 1, sha256Hash}."""
    if persisted is None:
        return None
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise BadInput("extensions.persistedQuery must be {version: 1, sha256Hash}")
    hash_ = persisted.get("sha256Hash")
    hash_ = hash_.lower() if isinstance(hash_, str) else hash_
    if not is_hash(hash_):
        raise BadInput("extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
    assert isinstance(hash_, str)
    return hash_


def _document_id(value: object) -> str | None:
    """The hash in a `documentId` of the form sha256:<64 hex digits>."""
    if value is None:
        return None
    if isinstance(value, str) and value.startswith(DOCUMENT_ID_PREFIX):
        hash_ = value.removeprefix(DOCUMENT_ID_PREFIX).lower()
        if is_hash(hash_):
            return hash_
    raise BadInput(f"documentId must be {DOCUMENT_ID_PREFIX}<64 hexadecimal digits>")


def with_document_id(
    extensions: dict[str, Any] | None, params: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The operation's extensions with the request's top-level `documentId` (GraphQL over HTTP
    persisted documents) moved in, where this extension looks for it."""
    document_id = params.get("documentId") if isinstance(params, Mapping) else None
    if document_id is None:
        return extensions
    return {**(extensions or {}), "documentId": document_id}


def names_a_document(params: Mapping[str, Any]) -> bool:
    """A GET that names a persisted document (so it is an operation, not a page visit)."""
    return "documentId" in params or "extensions" in params
