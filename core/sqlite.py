"""Tortoise's SQLite backend with write transactions that take the write lock when they begin.

SQLite's default `BEGIN` is deferred: a transaction starts as a reader and upgrades when it
first writes. When another process has written meanwhile (WAL mode), the upgrade fails at once
with "database is locked", whatever the busy timeout, so a second server process on the same
file turned concurrent money operations into errors. `BEGIN IMMEDIATE` takes the write lock
up front and waits for it (the busy timeout), so processes take turns instead. One process is
unaffected: Tortoise already serialises its transactions on the one connection.

settings.tortoise_config names this module as the engine of every SQLite database.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # as Tortoise's own begin()
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)


# What Tortoise looks for in an engine module.
client_class = ImmediateSqliteClient


def get_client_class(_db_info: dict[str, Any]) -> type[SqliteClient]:
    return ImmediateSqliteClient
