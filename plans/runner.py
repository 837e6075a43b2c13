"""Runs a plan: hand-built SQL on one connection, rows shaped straight into the answer.

One statement per level: the page of merchants (with its total by COUNT(*) OVER ()), then each
nested connection for the whole page at once, cut to each merchant's page in SQL with
ROW_NUMBER() OVER (PARTITION BY ...); the wallet is one statement. Only the columns the
document asks for are read. A row the API could not answer normally (a missing joined row, a
null where none can be) raises PlanMiss, and the general executor answers instead: plans only
read, so nothing is left half done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tortoise import connections

from core import clock
from models.enums import CardStatus, MerchantStatus
from plans.compiler import Conn, Node, Plan
from plans.mapping import CARD_EXPIRES_AT, read_moment
from plans.values import offset_of
from services.money import format_money
from services.pagination import DEFAULT_PAGE_SIZE, encode_cursor

Row = Any  # sqlite3.Row or asyncpg.Record: both read by column name

# Rows a caller of these kinds sees (auth/scoping.py readable_merchants, Merchant.cardProducts).
VISIBLE_MERCHANTS = MerchantStatus.ACTIVE.value
VISIBLE_PRODUCTS = "ACTIVE"


class PlanMiss(Exception):
    """The data holds something the plan does not answer; the general executor will."""


class Reader:
    """Statements on one acquired connection, logged like Tortoise's own (SQL counting)."""

    def __init__(self, client: Any, connection: Any, postgres: bool) -> None:
        self.client = client
        self.connection = connection
        self.postgres = postgres

    async def rows(self, sql: str, params: list[Any]) -> Sequence[Row]:
        log: logging.Logger = self.client.log
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s", sql, params)
        if self.postgres:
            return await self.connection.fetch(_numbered(sql), *params)
        return await self.connection.execute_fetchall(sql, params)


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's $1, $2, ... (no `?` appears in these statements else)."""
    parts = sql.split("?")
    return "".join(
        part + (f"${index}" if index < len(parts) else "")
        for index, part in enumerate(parts, start=1)
    )


def backend() -> str | None:
    """ "sqlite" or "postgres" for the default connection; None for one plans do not read."""
    from tortoise.backends.asyncpg.client import AsyncpgDBClient
    from tortoise.backends.sqlite.client import SqliteClient

    client = connections.get("default")
    if isinstance(client, SqliteClient):  # core/sqlite.py's client included
        return "sqlite"
    if isinstance(client, AsyncpgDBClient):
        return "postgres"
    return None


async def run(plan: Plan, user_id: int | None, variables: dict[str, Any]) -> dict[str, Any]:
    """The operation's `data`, read on one connection."""
    kind = backend()
    if kind is None:
        raise PlanMiss
    client = connections.get("default")
    async with client.acquire_connection() as connection:
        reader = Reader(client, connection, kind == "postgres")
        data: dict[str, Any] = {}
        for key, what, detail in plan.root:
            if what == "typename":
                data[key] = detail
            elif what == "merchants":
                data[key] = await _merchants(reader, detail, variables)
            else:
                data[key] = await _wallet(reader, detail, variables, user_id)
        return data


def _columns(node: Node) -> list[str]:
    prefix = node.prefix
    return [f"{prefix}.{column} AS {prefix}_{column}" for column in node.columns()]


def _window(conn: Conn, variables: dict[str, Any]) -> tuple[int, int]:
    """(offset, limit) of the connection's page, the values already found acceptable."""
    first = conn.first.value(variables)
    offset = offset_of(conn.after.value(variables))
    assert offset is not None
    return offset, DEFAULT_PAGE_SIZE if first is None else first


async def _merchants(reader: Reader, conn: Conn, variables: dict[str, Any]) -> dict[str, Any]:
    node = conn.node
    offset, limit = _window(conn, variables)
    columns = _columns(node)
    joins = ""
    for _key, what, detail in node.fields:
        if what == "rating":
            columns += ["m.credit_grade AS m_credit_grade", "m.credit_score AS m_credit_score"]
        elif what == "category":
            columns += _columns(detail)
            joins = " LEFT JOIN categories c ON c.code = m.category_id"
    rows: Sequence[Row] = []
    if limit:
        rows = await reader.rows(
            f"SELECT {', '.join(columns)}, COUNT(*) OVER () AS total FROM merchants m{joins}"
            " WHERE m.status = ? ORDER BY m.id LIMIT ? OFFSET ?",
            [VISIBLE_MERCHANTS, limit, offset],
        )
    if rows:
        total = int(rows[0]["total"])
    else:
        counted = await reader.rows(
            "SELECT COUNT(*) AS total FROM merchants m WHERE m.status = ?", [VISIBLE_MERCHANTS]
        )
        total = int(counted[0]["total"])
    ids = [row["m_id"] for row in rows]
    pages: dict[str, dict[int, tuple[list[Row], int]]] = {}
    for key, what, detail in node.fields:
        if what in ("stores", "products") and ids:
            pages[key] = await _children(reader, what, detail, ids, variables)

    def merchant(row: Row) -> dict[str, Any]:
        return _shape(node, row, pages, variables)

    return _connection(conn, rows, total, offset, merchant)


async def _children(
    reader: Reader, what: str, conn: Conn, ids: list[int], variables: dict[str, Any]
) -> dict[int, tuple[list[Row], int]]:
    """Each merchant's page of stores or products (and their count), in one statement."""
    node = conn.node
    prefix = node.prefix
    offset, limit = _window(conn, variables)
    table = node.table.table
    conditions = f"{prefix}.merchant_id IN ({', '.join('?' * len(ids))})"
    params: list[Any] = list(ids)
    if what == "products":
        conditions += f" AND {prefix}.status = ?"
        params.append(VISIBLE_PRODUCTS)
        status = conn.status.value(variables)
        if status is not None:
            conditions += f" AND {prefix}.status = ?"
            params.append(status)
    sold = any(field == "sold" for _key, field, _detail in node.fields)
    outer = "t.*" + (
        ", (SELECT COUNT(*) FROM cards sold WHERE sold.product_id = t.p_id) AS sold" if sold else ""
    )
    # The first row of each merchant comes along whatever the page, to tell its total.
    rows = await reader.rows(
        f"SELECT {outer} FROM (SELECT {prefix}.merchant_id AS parent, {', '.join(_columns(node))},"
        f" ROW_NUMBER() OVER (PARTITION BY {prefix}.merchant_id ORDER BY {prefix}.id) AS rn,"
        f" COUNT(*) OVER (PARTITION BY {prefix}.merchant_id) AS total"
        f" FROM {table} {prefix} WHERE {conditions}) t"
        " WHERE (t.rn > ? AND t.rn <= ?) OR t.rn = 1 ORDER BY t.parent, t.rn",
        [*params, offset, offset + limit],
    )
    pages: dict[int, tuple[list[Row], int]] = {}
    for row in rows:
        parent = row["parent"]
        page = pages.setdefault(parent, ([], int(row["total"])))
        if offset < row["rn"] <= offset + limit:
            page[0].append(row)
    return pages


async def _wallet(
    reader: Reader, fields: Any, variables: dict[str, Any], user_id: int | None
) -> dict[str, Any]:
    if user_id is None:
        raise PlanMiss
    cards_conn: Conn | None = next((d for _k, w, d in fields if w == "cards"), None)
    columns = ["k.id AS k_id", "k.status AS k_status", "k.expires_at AS k_expires_at"]
    columns += ["k.balance_fen AS k_balance_fen", "k.cash_value_fen AS k_cash_value_fen"]
    joins = ""
    if cards_conn is not None:
        columns += [c for c in _columns(cards_conn.node) if c not in columns]
        for _key, what, detail in cards_conn.node.fields:
            if what == "object" and detail.prefix == "cm":
                columns += _columns(detail)
                joins += " LEFT JOIN merchants cm ON cm.id = k.merchant_id"
            elif what == "object":
                columns += _columns(detail)
                joins += " LEFT JOIN card_products cp ON cp.id = k.product_id"
    # Through the user: no row at all means the account is gone (the API then errs).
    rows = await reader.rows(
        f"SELECT {', '.join(columns)} FROM users u LEFT JOIN cards k ON k.owner_id = u.id{joins}"
        " WHERE u.id = ? ORDER BY k.issued_at DESC, k.id DESC",
        [user_id],
    )
    if not rows:
        raise PlanMiss
    cards = [row for row in rows if row["k_id"] is not None]
    now = clock.now()
    shown = {row["k_id"]: _card_status(row, now) for row in cards}
    wallet: dict[str, Any] = {}
    for key, what, detail in fields:
        if what == "__typename":
            wallet[key] = detail
        elif what == "totalBalance":
            wallet[key] = _sum(cards, "k_balance_fen")
        elif what == "totalCashValue":
            wallet[key] = _sum(cards, "k_cash_value_fen")
        else:
            status = detail.status.value(variables)
            chosen = [row for row in cards if status is None or shown[row["k_id"]] == status]
            offset, limit = _window(detail, variables)
            page = chosen[offset : offset + limit]

            def card(row: Row, node: Node = detail.node) -> dict[str, Any]:
                return _shape(node, row, {}, variables, shown[row["k_id"]])

            wallet[key] = _connection(detail, page, len(chosen), offset, card)
    return wallet


def _sum(rows: Sequence[Row], column: str) -> str:
    return format_money(sum(int(row[column]) for row in rows))


def _card_status(row: Row, now: dt.datetime) -> str:
    """schema/cards.py Card.status: an ACTIVE card past its validity shows EXPIRED."""
    status = row["k_status"]
    if status == CardStatus.ACTIVE.value:
        expires = read_moment(CARD_EXPIRES_AT, row["k_expires_at"])
        if expires <= now:
            return CardStatus.EXPIRED.value
    return str(status)


def _shape(
    node: Node,
    row: Row,
    pages: dict[str, dict[int, tuple[list[Row], int]]],
    variables: dict[str, Any],
    card_status: str | None = None,
) -> dict[str, Any]:
    """One object of the answer, its fields in the document's order."""
    prefix = node.prefix + "_"
    shaped: dict[str, Any] = {}
    for key, what, detail in node.fields:
        if what == "column":
            value = row[prefix + detail.column]
            if value is None:
                if not detail.nullable:
                    raise PlanMiss
                shaped[key] = None
            else:
                shaped[key] = detail.convert(value)
        elif what == "typename":
            shaped[key] = detail
        elif what == "rating":
            grade, score = row["m_credit_grade"], row["m_credit_score"]
            shaped[key] = (
                None
                if grade is None or score is None
                else {
                    k: (t if w == "__typename" else grade if w == "grade" else int(score))
                    for k, w, t in detail
                }
            )
        elif what in ("category", "object"):
            if row[f"{detail.prefix}_{detail.table.key}"] is None:
                raise PlanMiss
            shaped[key] = _shape(detail, row, {}, variables)
        elif what in ("stores", "products"):
            rows, total = pages.get(key, {}).get(row["m_id"], ([], 0))
            offset, _limit = _window(detail, variables)

            def child(child_row: Row, child_node: Node = detail.node) -> dict[str, Any]:
                return _shape(child_node, child_row, {}, variables)

            shaped[key] = _connection(detail, rows, total, offset, child)
        elif what == "sold":
            shaped[key] = int(row["sold"])
        else:
            shaped[key] = card_status
    return shaped


def _connection(
    conn: Conn,
    rows: Sequence[Row],
    total: int,
    offset: int,
    node_of: Callable[[Row], dict[str, Any]],
) -> dict[str, Any]:
    """A connection as schema/pagination.py to_connection builds it."""
    count = len(rows)
    shaped: dict[str, Any] = {}
    for key, what, detail in conn.fields:
        if what == "totalCount":
            shaped[key] = total
        elif what == "__typename":
            shaped[key] = detail
        elif what == "pageInfo":
            shaped[key] = _page_info(detail, offset, count, total)
        else:
            edges = []
            for index, row in enumerate(rows):
                edge: dict[str, Any] = {}
                for edge_key, edge_what, edge_detail in detail:
                    if edge_what == "node":
                        edge[edge_key] = node_of(row)
                    elif edge_what == "cursor":
                        edge[edge_key] = encode_cursor(offset + index)
                    else:
                        edge[edge_key] = edge_detail
                edges.append(edge)
            shaped[key] = edges
    return shaped


def _page_info(fields: Any, offset: int, count: int, total: int) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for key, what, detail in fields:
        if what == "hasNextPage":
            info[key] = offset + count < total
        elif what == "hasPreviousPage":
            info[key] = offset > 0
        elif what == "startCursor":
            info[key] = encode_cursor(offset) if count else None
        elif what == "endCursor":
            info[key] = encode_cursor(offset + count - 1) if count else None
        else:
            info[key] = detail
    return info
