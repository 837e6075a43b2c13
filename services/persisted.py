"""Persisted operations: documents a request names by hash instead of sending them.

Two kinds, looked up by the same SHA-256 of a document's text:

- Trusted documents: the operations the known clients send, kept as `.graphql` files under
  `clients/<client>/` and turned by `anfu persisted build` into a manifest (hash → document,
  with its client and operation name) that the server loads at start. A request names one by
  its hash (`extensions.persistedQuery.sha256Hash`) or by `documentId: "sha256:<hash>"`. In
  allowlist mode only these run, except for REGULATOR tokens (their tools send anything).
- Apollo APQ: a client sends a hash alone; on PersistedQueryNotFound it sends the document with
  its hash once, which is checked and kept in the shared cache (bounded in size, in time and,
  in the in-process cache, in number), so the next hash-only request finds it.

schema/persisted.py applies this to each operation; this module never sees strawberry.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aiocache import SimpleMemoryCache
from aiocache.base import BaseCache
from graphql import (
    GraphQLError,
    GraphQLSchema,
    Lexer,
    OperationDefinitionNode,
    Source,
    TokenKind,
    parse,
    print_ast,
    validate,
)

from core import cache
from core.errors import DomainError, ErrorCode

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger("anfu.persisted")

MANIFEST_FORMAT = "anfu-trusted-documents"
MANIFEST_VERSION = 1
DOCUMENT_ID_PREFIX = "sha256:"
# The project's own clients and their manifest, beside the code in a source checkout.
PROJECT_CLIENTS = Path(__file__).resolve().parent.parent / "clients"
PROJECT_MANIFEST = PROJECT_CLIENTS / "manifest.json"
_HASH = re.compile(r"[0-9a-f]{64}")
_CACHE_KEY = "apq:"

Mode = Literal["open", "allowlist"]


class ManifestError(Exception):
    """The clients' documents or a manifest file are not usable; the message lists why."""


class PersistedQueryNotFound(DomainError):
    """A hash names no document this server knows (Apollo's link then sends the document)."""

    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND

    def __init__(self, message: str = "PersistedQueryNotFound") -> None:
        super().__init__(message)


class PersistedQueryNotAllowed(DomainError):
    """Allowlist mode: the document is not one of the manifest's trusted documents."""

    code = ErrorCode.PERSISTED_QUERY_NOT_ALLOWED


def document_hash(text: str) -> str:
    """The SHA-256 of a document's text in hex: Apollo's `sha256Hash`, our documentId."""
    return hashlib.sha256(text.encode()).hexdigest()


def is_hash(value: object) -> bool:
    return isinstance(value, str) and _HASH.fullmatch(value) is not None


def canonical(text: str) -> str:
    """The document as graphql-js and graphql-core print it: comments and layout do not count."""
    return print_ast(parse(text, no_location=True))


@dataclass(frozen=True, slots=True)
class ClientDocument:
    """One `.graphql` file of a known client: one operation, in canonical form."""

    client: str
    source: str
    operation_name: str
    operation_type: str
    document: str

    @property
    def hash(self) -> str:
        return document_hash(self.document)


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    """One approved operation, sent by one or more known clients."""

    hash: str
    operation_name: str
    operation_type: str
    document: str
    clients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    documents: Mapping[str, TrustedDocument] = field(default_factory=dict)

    def get(self, hash_: str) -> TrustedDocument | None:
        return self.documents.get(hash_)

    def __len__(self) -> int:
        return len(self.documents)

    @functools.cached_property
    def max_tokens(self) -> int:
        """The most tokens a manifest document has: a text with more is none of them."""
        return max((token_count(d.document) for d in self.documents.values()), default=0)


def token_count(text: str) -> int:
    """Tokens of a document as the parser counts them (comments and layout are not tokens)."""
    lexer = Lexer(Source(text))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


# Building the manifest from clients/<client>/*.graphql


def read_client_documents(clients_dir: Path) -> list[ClientDocument]:
    """Every `.graphql` file under `clients_dir/<client>/`, one named operation each (plus any
    fragments it uses), in canonical form. Raises ManifestError listing every problem."""
    documents: list[ClientDocument] = []
    problems: list[str] = []
    for path in sorted(clients_dir.glob("*/*.graphql")):
        where = path.relative_to(clients_dir.parent).as_posix()
        try:
            document = parse(path.read_text(encoding="utf-8"), no_location=True)
        except GraphQLError as error:
            problems.append(f"{where}: {error.message}")
            continue
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].name is None:
            problems.append(f"{where}: needs exactly one operation, and a name for it")
            continue
        documents.append(
            ClientDocument(
                client=path.parent.name,
                source=where,
                operation_name=operations[0].name.value,
                operation_type=operations[0].operation.value,
                document=print_ast(document),
            )
        )
    problems += _duplicates(documents)
    if problems:
        raise ManifestError("; ".join(problems))
    return documents


def _duplicates(documents: Iterable[ClientDocument]) -> list[str]:
    """A client names each of its operations once (two clients may send the same document)."""
    problems: list[str] = []
    names: dict[tuple[str, str], str] = {}
    for document in documents:
        name = (document.client, document.operation_name)
        if name in names:
            problems.append(
                f"{document.source}: operation {document.operation_name} is also in {names[name]}"
            )
        names.setdefault(name, document.source)
    return problems


def validation_problems(documents: Iterable[ClientDocument], schema: GraphQLSchema) -> list[str]:
    """What the schema finds wrong with each document ("source: message")."""
    return [
        f"{document.source}: {error.message}"
        for document in documents
        for error in validate(schema, parse(document.document, no_location=True))
    ]


def build_manifest(clients_dir: Path, schema: GraphQLSchema | None = None) -> dict[str, Any]:
    """The manifest of the clients' documents as JSON data; checked against `schema` if given."""
    documents = read_client_documents(clients_dir)
    if schema is not None and (problems := validation_problems(documents, schema)):
        raise ManifestError("; ".join(problems))
    entries: dict[str, dict[str, Any]] = {}
    for document in documents:
        entry = entries.setdefault(
            document.hash,
            {
                "operationName": document.operation_name,
                "operationType": document.operation_type,
                "clients": [],
                "sources": [],
                "document": document.document,
            },
        )
        entry["clients"] = sorted({*entry["clients"], document.client})
        entry["sources"].append(document.source)
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "documents": entries}


def manifest_text(manifest: Mapping[str, Any]) -> str:
    """The manifest as committed: stable, readable JSON ending in a newline."""
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


def load_manifest(path: Path) -> Manifest:
    """Read a manifest file, checking that every document has the hash it is filed under."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestError(f"cannot read the manifest {path}: {error}") from error
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{path} is not an {MANIFEST_FORMAT} manifest")
    if data.get("version") != MANIFEST_VERSION:
        raise ManifestError(f"{path}: manifest version {data.get('version')!r} is not supported")
    documents: dict[str, TrustedDocument] = {}
    for hash_, entry in (data.get("documents") or {}).items():
        if not isinstance(entry, dict) or document_hash(str(entry.get("document"))) != hash_:
            raise ManifestError(f"{path}: the document filed under {hash_} has another hash")
        documents[hash_] = TrustedDocument(
            hash=hash_,
            operation_name=str(entry.get("operationName", "")),
            operation_type=str(entry.get("operationType", "")),
            document=entry["document"],
            clients=tuple(str(client) for client in entry.get("clients") or ()),
        )
    return Manifest(documents)


# Apollo APQ in the shared cache

# Keys this process put in an in-process cache, oldest first: aiocache's memory cache has no
# size cap, so the store evicts beyond its bound itself. Per cache object (tests swap caches).
_memory_keys: weakref.WeakKeyDictionary[BaseCache, OrderedDict[str, None]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class ApqStore:
    """Documents registered by Apollo clients, by hash, in the shared cache.

    The cache being down or slow only costs round trips: a lookup finds nothing (the client
    sends the document again) and a document that cannot be kept still runs."""

    max_bytes: int = 16 * 1024
    ttl_seconds: int = 24 * 3600
    max_entries: int = 10_000
    timeout_seconds: float = 0.5

    async def get(self, hash_: str) -> str | None:
        store = cache.cache()
        key = _CACHE_KEY + hash_
        try:
            async with asyncio.timeout(self.timeout_seconds):
                document = await store.get(key)
        except Exception as error:
            log.warning("APQ lookup failed, answering not found: %s", error)
            return None
        if not isinstance(document, str) or document_hash(document) != hash_:
            return None
        if isinstance(store, SimpleMemoryCache):
            keys = _memory_keys.setdefault(store, OrderedDict())
            if key in keys:
                keys.move_to_end(key)
        return document

    async def put(self, hash_: str, document: str) -> bool:
        """Keep a document whose hash was checked; False when it is over the size bound or the
        cache did not take it."""
        if len(document.encode()) > self.max_bytes:
            return False
        store = cache.cache()
        key = _CACHE_KEY + hash_
        try:
            async with asyncio.timeout(self.timeout_seconds):
                await store.set(key, document, ttl=self.ttl_seconds)
                if isinstance(store, SimpleMemoryCache):
                    await _evict_beyond(store, key, self.max_entries)
        except Exception as error:
            log.warning("APQ document not kept: %s", error)
            return False
        return True


async def _evict_beyond(store: SimpleMemoryCache, key: str, max_entries: int) -> None:
    """Note `key` as the newest entry of an in-process cache and drop the oldest over the cap."""
    keys = _memory_keys.setdefault(store, OrderedDict())
    keys[key] = None
    keys.move_to_end(key)
    while len(keys) > max_entries:
        oldest, _ = keys.popitem(last=False)
        await store.delete(oldest)


@dataclass(frozen=True)
class PersistedPolicy:
    """What a server does with persisted operations: its mode, manifest and APQ store."""

    mode: Mode = "open"
    manifest: Manifest = field(default_factory=Manifest)
    store: ApqStore = field(default_factory=ApqStore)

    @property
    def allowlist(self) -> bool:
        return self.mode == "allowlist"

    def trusted(self, document: str) -> TrustedDocument | None:
        """The manifest entry a document sent in full stands for: its own text, or the same
        operation written with other layout or comments."""
        found = self.manifest.get(document_hash(document))
        if found is not None or not self.manifest:
            return found
        try:
            # Parsed only as far as the longest manifest document goes: anyone may send this.
            printed = print_ast(
                parse(document, no_location=True, max_tokens=self.manifest.max_tokens)
            )
        except (GraphQLError, RecursionError):
            return None
        return self.manifest.get(document_hash(printed))


def manifest_path(configured: str) -> Path | None:
    """The manifest to load: the configured one, else the project's own when it is there."""
    if configured:
        return Path(configured)
    return PROJECT_MANIFEST if PROJECT_MANIFEST.is_file() else None


def policy_from_settings(settings: Settings) -> PersistedPolicy:
    """The policy the settings describe, manifest loaded; ManifestError when it cannot be."""
    path = manifest_path(settings.persisted_manifest)
    manifest = load_manifest(path) if path is not None else Manifest()
    if settings.persisted == "allowlist" and not manifest:
        raise ManifestError(
            "ANFU_PERSISTED=allowlist needs a manifest with documents (ANFU_PERSISTED_MANIFEST)"
        )
    log.info(
        "persisted operations: %s mode, %d trusted document(s)%s",
        settings.persisted,
        len(manifest),
        f" from {path}" if path else "",
    )
    return PersistedPolicy(
        mode=settings.persisted,
        manifest=manifest,
        store=ApqStore(
            max_bytes=settings.apq_max_bytes,
            ttl_seconds=settings.apq_ttl_seconds,
            max_entries=settings.apq_max_entries,
        ),
    )
