"""Helpers for tests: GraphQL calls, tokens, and factories for a small world of rows."""

from __future__ import annotations

import contextlib
import functools
import itertools
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from auth import passwords, tokens
from core import cache
from core.principal import Principal
from models import Card, CardProduct, CardProductStore, Merchant, Store, Transfer, User
from models.enums import CardProductStatus, MerchantStatus, Role, StoreStatus
from services import cards, ledger, redemption
from services.card_transactions import CardOperation
from services.credit_code import with_check_character
from settings import get_settings

PASSWORD = "secret-pass-1"
_system_random = random.SystemRandom()
_phones = itertools.count(_system_random.randrange(10**7, 9 * 10**7))


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def data_of(result: dict[str, Any]) -> dict[str, Any]:
    """The data of a response that must have no errors."""
    assert not result.get("errors"), result.get("errors")
    return result["data"]


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors") or []]


def error_at(result: dict[str, Any], *path: str | int) -> str | None:
    """The code of the error at `path`, or None."""
    for error in result.get("errors") or []:
        if tuple(error.get("path") or ()) == path:
            return error["extensions"]["code"]
    return None


def new_phone() -> str:
    return f"139{next(_phones):08d}"


def new_credit_code() -> str:
    # SystemRandom: hypothesis re-seeds the global generator the same way for every example.
    body = "".join(_system_random.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return with_check_character(f"91320800{body}")


@functools.cache
def password_hash() -> str:
    return passwords.hash_password(PASSWORD)


def token_for(user: User, session_id: str | None = None) -> str:
    """An access token for `user`, in a session of its own unless one is named."""
    return tokens.issue_access_token(
        get_settings(),
        user_id=user.id,
        role=user.role,
        session_id=session_id or str(uuid.uuid4()),
        merchant_id=user.merchant_id,
        store_id=user.store_id,
    ).token


def principal_of(user: User) -> Principal:
    """The principal a token of `user` decodes to, for calling services directly."""
    return Principal(
        user_id=user.id, role=user.role, merchant_id=user.merchant_id, store_id=user.store_id
    )


async def make_user(role: Role = Role.CONSUMER, **fields: Any) -> User:
    fields.setdefault("phone", new_phone())
    fields.setdefault("display_name", f"{role.value.title()} {fields['phone'][-4:]}")
    return await User.create(role=role, password_hash=password_hash(), **fields)


@dataclass
class MerchantWorld:
    """A merchant with its owner, stores and one product."""

    merchant: Merchant
    owner: User
    stores: list[Store]
    product: CardProduct
    staff: list[User] = field(default_factory=list)

    @property
    def token(self) -> str:
        return token_for(self.owner)


async def make_merchant(
    *,
    name: str | None = None,
    status: MerchantStatus = MerchantStatus.ACTIVE,
    category: str = "LAUNDRY",
    stores: int = 2,
    district: str = "清江浦区",
    price_fen: int = 70_000,
    face_fen: int = 100_000,
    custody_ratio_bp: int = 10_000,
    all_stores: bool = True,
    validity_days: int = 365,
) -> MerchantWorld:
    name = name or f"测试洗衣 {uuid.uuid4().hex[:6]}"
    merchant = await Merchant.create(
        name=name,
        credit_code=new_credit_code(),
        legal_representative="王五",
        category_id=category,
        contact_phone=new_phone(),
        status=status,
        registry_verified=True,
        custody_ratio_bp=custody_ratio_bp,
    )
    owner = await make_user(Role.MERCHANT, merchant_id=merchant.id, is_merchant_owner=True)
    store_rows = [
        await Store.create(
            merchant_id=merchant.id,
            name=f"{name} {index + 1}号店",
            address=f"健康东路{index + 1}号",
            district=district,
            status=StoreStatus.OPEN,
        )
        for index in range(stores)
    ]
    product = await CardProduct.create(
        merchant_id=merchant.id,
        name=f"充{face_fen // 100}送{(face_fen - price_fen) // 100}",
        description="洗衣卡",
        price_fen=price_fen,
        face_value_fen=face_fen,
        validity_days=validity_days,
        all_stores=all_stores,
        status=CardProductStatus.ACTIVE,
    )
    if not all_stores:
        await CardProductStore.create(product_id=product.id, store_id=store_rows[0].id)
    return MerchantWorld(merchant, owner, store_rows, product)


async def make_staff(world: MerchantWorld, store: Store | None = None) -> User:
    staff = await make_user(
        Role.MERCHANT, merchant_id=world.merchant.id, store_id=store.id if store else None
    )
    world.staff.append(staff)
    return staff


async def buy_card(consumer: User, world: MerchantWorld) -> CardOperation:
    return await cards.purchase(
        principal=principal_of(consumer),
        product_id=world.product.id,
        idempotency_key=uuid.uuid4().hex,
    )


async def redeem_fen(world: MerchantWorld, card_id: int, consumer: User, amount_fen: int) -> Any:
    issued = await redemption.issue_redemption_code(
        principal=principal_of(consumer), card_id=card_id
    )
    return await redemption.redeem(
        principal=principal_of(world.owner),
        code=issued.code,
        store_id=world.stores[0].id,
        amount_fen=amount_fen,
        idempotency_key=uuid.uuid4().hex,
    )


async def call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], user: User | None = None
) -> dict[str, Any]:
    """A GraphQL call as `user` (anonymous when None)."""
    return await gql(client, query, variables, token=token_for(user) if user else None)


async def money_of(world: MerchantWorld) -> tuple[Any, ...]:
    """Everything a failed operation must leave as it was: accounts, transfers, cards."""
    merchant_id = world.merchant.id
    accounts = await ledger.account_balances(
        [ledger.escrow_account(merchant_id), ledger.settlement_account(merchant_id)]
    )
    transfers = await Transfer.filter(merchant_id=merchant_id).count()
    cards_held = (
        await Card.filter(merchant_id=merchant_id)
        .order_by("id")
        .values_list("id", "balance_fen", "cash_value_fen", "escrow_held_fen", "status")
    )
    return accounts, transfers, cards_held


async def assert_ledger_clean() -> None:
    report = await ledger.verify_ledger()
    assert report.problems == []


@contextlib.asynccontextmanager
async def cache_outage() -> AsyncIterator[None]:
    """The shared cache is down (a Redis nobody answers at) while the block runs."""
    original = cache.cache()
    dead = cache.build_cache("redis://127.0.0.1:1/0")
    cache.use_cache(dead)
    cache.mark_up()
    try:
        yield
    finally:
        cache.use_cache(original)
        cache.mark_up()
        await dead.close()
