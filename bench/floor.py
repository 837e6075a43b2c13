"""The floor: what the home page and the wallet cost when written by hand, to measure Anfu
against.

A Starlette app (in bench/ only) answering, from the same database, with exactly the JSON the
API gives, in hand-written SQL on one connection (no GraphQL, no ORM):

- `POST /home`: an anonymous caller's bench.queries.HOME (twenty ACTIVE merchants with their
  rating, category, first ten stores and first ten products on sale, and the total): three
  statements.
- `POST /wallet`: the consumer mini-program's wallet.graphql for the bearer of the token
  (verified with ANFU_JWT_SECRET, as the server does): one statement.

    python -m uvicorn bench.floor:app --port 8100   # DATABASE_URL, ANFU_JWT_SECRET as the server
"""

from __future__ import annotations

import base64
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAGE = 20
NESTED = 10

MERCHANTS = """
SELECT m.id, m.name, m.credit_grade, m.credit_score, c.name,
       (SELECT COUNT(*) FROM merchants WHERE status = 'ACTIVE')
FROM merchants m JOIN categories c ON c.code = m.category_id
WHERE m.status = 'ACTIVE' ORDER BY m.id LIMIT {page}
"""
# Every store of the page's merchants (a merchant's stores in id order; the first ten are sent).
STORES = """
SELECT merchant_id, name, district, COUNT(*) OVER (PARTITION BY merchant_id),
       ROW_NUMBER() OVER (PARTITION BY merchant_id ORDER BY id)
FROM stores WHERE merchant_id IN ({ids}) ORDER BY merchant_id, id
"""
PRODUCTS = """
SELECT p.merchant_id, p.name, p.price_fen, p.face_value_fen,
       (SELECT COUNT(*) FROM cards WHERE product_id = p.id),
       ROW_NUMBER() OVER (PARTITION BY p.merchant_id ORDER BY p.id)
FROM card_products p WHERE p.merchant_id IN ({ids}) AND p.status = 'ACTIVE'
ORDER BY p.merchant_id, p.id
"""


WALLET = """
SELECT c.id, c.card_number, c.balance_fen, c.cash_value_fen, c.status, c.issued_at,
       c.expires_at, c.cooling_off_ends_at, m.id, m.name, p.id, p.name, p.face_value_fen
FROM cards c JOIN merchants m ON m.id = c.merchant_id JOIN card_products p ON p.id = c.product_id
WHERE c.owner_id = {owner} ORDER BY c.issued_at DESC, c.id DESC
"""


def global_id(type_name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def offset_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def moment(value: datetime | str) -> datetime:
    """A timestamp as the driver gives it (asyncpg: datetime; SQLite: ISO text), in UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed.astimezone(UTC)


def money(fen: int) -> str:
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


class Connection(Protocol):
    async def rows(self, sql: str) -> Sequence[Sequence[Any]]: ...


class Database(Protocol):
    def connection(self) -> AbstractAsyncContextManager[Connection]: ...
    async def close(self) -> None: ...


class Postgres:
    """A pool: one connection per request (asyncpg runs one statement at a time on one)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> Postgres:
        import asyncpg

        dsn = url.replace("postgres://", "postgresql://", 1)
        return cls(await asyncpg.create_pool(dsn, min_size=4, max_size=16))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as connection:
            yield _Fetching(connection)

    async def close(self) -> None:
        await self.pool.close()


class _Fetching:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def rows(self, sql: str) -> Sequence[Sequence[Any]]:
        return await self.connection.fetch(sql)


class Sqlite:
    """The one connection (aiosqlite queues its statements)."""

    def __init__(self, connection: Any) -> None:
        self.sqlite = connection

    @classmethod
    async def open(cls, url: str) -> Sqlite:
        import aiosqlite

        return cls(await aiosqlite.connect(url.removeprefix("sqlite://")))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        yield self

    async def rows(self, sql: str) -> Sequence[Sequence[Any]]:
        async with self.sqlite.execute(sql) as cursor:
            return list(await cursor.fetchall())

    async def close(self) -> None:
        await self.sqlite.close()


async def home_page(db: Connection) -> dict[str, Any]:
    merchants = await db.rows(MERCHANTS.format(page=PAGE))
    ids = ",".join(str(int(row[0])) for row in merchants) or "NULL"
    stores: dict[int, list[dict[str, Any]]] = defaultdict(list)
    store_counts: dict[int, int] = {}
    for merchant_id, name, district, count, position in await db.rows(STORES.format(ids=ids)):
        store_counts[merchant_id] = count
        if position <= NESTED:
            stores[merchant_id].append({"node": {"name": name, "district": district}})
    products: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for merchant_id, name, price, face, sold, position in await db.rows(PRODUCTS.format(ids=ids)):
        if position <= NESTED:
            node = {
                "name": name,
                "price": money(price),
                "faceValue": money(face),
                "soldCount": sold,
            }
            products[merchant_id].append({"node": node})
    edges = [
        {
            "node": {
                "name": name,
                "creditRating": (
                    {"grade": grade, "score": score}
                    if grade is not None and score is not None
                    else None
                ),
                "category": {"name": category},
                "stores": {
                    "totalCount": store_counts.get(merchant_id, 0),
                    "edges": stores[merchant_id],
                },
                "cardProducts": {"edges": products[merchant_id]},
            }
        }
        for merchant_id, name, grade, score, category, _total in merchants
    ]
    total = merchants[0][5] if merchants else 0
    return {"data": {"merchants": {"totalCount": total, "edges": edges}}}


async def wallet(db: Connection, owner: int) -> dict[str, Any]:
    rows = await db.rows(WALLET.format(owner=int(owner)))
    now = datetime.now(UTC)
    cards = []
    for (
        key,
        number,
        balance,
        cash,
        status,
        issued,
        expires,
        cooling,
        mid,
        mname,
        pid,
        pname,
        face,
    ) in rows:
        ends = moment(expires)
        shown = "EXPIRED" if status == "ACTIVE" and ends <= now else status
        cards.append(
            {
                "id": global_id("Card", key),
                "cardNumber": number,
                "balance": money(balance),
                "cashValue": money(cash),
                "status": shown,
                "issuedAt": moment(issued).isoformat(),
                "expiresAt": ends.isoformat(),
                "coolingOffEndsAt": moment(cooling).isoformat(),
                "merchant": {"id": global_id("Merchant", mid), "name": mname},
                "product": {
                    "id": global_id("CardProduct", pid),
                    "name": pname,
                    "faceValue": money(face),
                },
            }
        )
    page = cards[:PAGE]
    return {
        "data": {
            "wallet": {
                "totalBalance": money(sum(row[2] for row in rows)),
                "totalCashValue": money(sum(row[3] for row in rows)),
                "cards": {
                    "totalCount": len(cards),
                    "pageInfo": {
                        "hasNextPage": len(cards) > PAGE,
                        "endCursor": offset_cursor(len(page) - 1) if page else None,
                    },
                    "edges": [{"node": card} for card in page],
                },
            }
        }
    }


def _open(url: str) -> Any:
    return Postgres.open(url) if url.startswith("postgres") else Sqlite.open(url)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.db = await _open(os.environ["DATABASE_URL"])
    try:
        yield
    finally:
        await app.state.db.close()


def _json(answer: dict[str, Any]) -> Response:
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    return Response(body, media_type="application/json")


async def home(request: Request) -> Response:
    async with request.app.state.db.connection() as connection:
        return _json(await home_page(connection))


async def wallet_page(request: Request) -> Response:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    claims = jwt.decode(
        token,
        os.environ["ANFU_JWT_SECRET"],
        algorithms=["HS256"],
        audience="anfu-api",
        options={"verify_iss": False},
    )
    async with request.app.state.db.connection() as connection:
        return _json(await wallet(connection, int(claims["sub"])))


async def healthz(_request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/home", home, methods=["POST"]),
        Route("/wallet", wallet_page, methods=["POST"]),
        Route("/healthz", healthz),
    ],
    lifespan=lifespan,
)
