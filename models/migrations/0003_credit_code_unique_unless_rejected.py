"""A rejected applicant may apply again: merchants.credit_code is unique unless REJECTED.

A new application is a new merchant row; the rejected one keeps its row, its
findings and its audit trail. So the column's plain UNIQUE becomes a partial
unique index over the rows that are not REJECTED.

PostgreSQL takes Tortoise's own operations. SQLite cannot drop a column's
UNIQUE, and Tortoise's SQLite table rebuild would lose the table's indexes and
fail on the rows that other tables refer to; so on SQLite the table is rebuilt
here from its own CREATE statement, indexes and AUTOINCREMENT counter included.
"""

from __future__ import annotations

import re

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State

TABLE = "merchants"
UNIQUE_UNLESS_REJECTED = UniqueConstraint(
    fields=("credit_code",),
    name="merchant_credit_code_unless_rejected",
    condition="status <> 'REJECTED'",
)
_PARTIAL_INDEX_SQL = (
    f'CREATE UNIQUE INDEX "{UNIQUE_UNLESS_REJECTED.name}" ON "{TABLE}" ("credit_code") '
    f"WHERE {UNIQUE_UNLESS_REJECTED.condition}"
)
_UNIQUE_COLUMN = re.compile(r'("credit_code" VARCHAR\(18\) NOT NULL) UNIQUE')
_PLAIN_COLUMN = re.compile(r'("credit_code" VARCHAR\(18\) NOT NULL)(?= *[,)])')


async def _rebuild_sqlite_table(editor: BaseSchemaEditor, *, unique_column: bool) -> None:
    """Recreate the merchants table with or without UNIQUE on credit_code, keeping its rows,
    ids, indexes and the rows of other tables that refer to it."""
    client = editor.client
    if editor.collect_sql:
        editor.collected_sql.append(f"-- SQLite: rebuild {TABLE} (see this migration's code)")
        return
    entries = await client.execute_query_dict(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ?", [TABLE]
    )
    (create_table,) = [entry["sql"] for entry in entries if entry["type"] == "table"]
    pattern, replacement = (
        (_PLAIN_COLUMN, r"\1 UNIQUE") if unique_column else (_UNIQUE_COLUMN, r"\1")
    )
    create_table, replaced = pattern.subn(replacement, create_table)
    if replaced != 1:
        raise RuntimeError(f"credit_code is not declared as expected in {TABLE}")
    # Indexes that SQLite makes for UNIQUE columns have no SQL and come back with the table.
    indexes = [
        entry["sql"]
        for entry in entries
        if entry["type"] == "index"
        and entry["sql"]
        and entry["name"] != UNIQUE_UNLESS_REJECTED.name
    ]
    if not unique_column:
        indexes.append(_PARTIAL_INDEX_SQL)
    columns = ", ".join(
        f'"{column["name"]}"'
        for column in await client.execute_query_dict(f'PRAGMA table_info("{TABLE}")')
    )
    sequence = await client.execute_query_dict(
        "SELECT seq FROM sqlite_sequence WHERE name = ?", [TABLE]
    )
    copy = f"{TABLE}__rebuild"
    statements = [
        # Dropping the table orphans the rows that refer to it until it is filled again: the
        # check waits for the commit, when every reference points at a row once more.
        "PRAGMA defer_foreign_keys = ON",
        f'CREATE TABLE "{copy}" AS SELECT {columns} FROM "{TABLE}"',
        f'DROP TABLE "{TABLE}"',
        create_table,
        f'INSERT INTO "{TABLE}" ({columns}) SELECT {columns} FROM "{copy}"',
        f'DROP TABLE "{copy}"',
        *indexes,
        f"DELETE FROM sqlite_sequence WHERE name = '{TABLE}'",
    ]
    for statement in statements:
        await client.execute_query(statement)
    if sequence:
        await client.execute_query(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [TABLE, sequence[0]["seq"]]
        )


class CreditCodeUniqueUnlessRejected(ops.TortoiseOperation):
    """The model state of `AlterField` + `AddConstraint`, done by hand on SQLite."""

    def __init__(self) -> None:
        self.alter = ops.AlterField(
            model_name="Merchant", name="credit_code", field=fields.CharField(max_length=18)
        )
        self.constrain = ops.AddConstraint(model_name="Merchant", constraint=UNIQUE_UNLESS_REJECTED)

    def describe(self) -> str:
        return "Make merchants.credit_code unique among merchants that are not REJECTED"

    def state_forward(self, app_label: str, state: State) -> None:
        self.alter.state_forward(app_label, state)
        self.constrain.state_forward(app_label, state)

    async def database_forward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is None:
            return
        if state_editor.DIALECT == "sqlite":
            await _rebuild_sqlite_table(state_editor, unique_column=False)
            return
        await self.alter.database_forward(app_label, old_state, new_state, state_editor)
        await self.constrain.database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        # Fails, changing nothing, once two merchants share a credit code.
        if state_editor is None:
            return
        if state_editor.DIALECT == "sqlite":
            await _rebuild_sqlite_table(state_editor, unique_column=True)
            return
        await self.constrain.database_backward(app_label, old_state, new_state, state_editor)
        await self.alter.database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [("anfu", "0002_categories")]

    operations = [CreditCodeUniqueUnlessRejected()]
