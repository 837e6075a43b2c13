"""Users and the payloads of registration and login."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth import scoping
from models import User as UserRow
from schema.context import Info
from schema.enums import Role
from schema.ids import encode_id
from schema.node import Node

if TYPE_CHECKING:
    from schema.merchants import Merchant, Store


@strawberry.type
class User(Node):
    row: strawberry.Private[UserRow]
    # True when the user is the one the response is for (login and registration payloads).
    is_viewer: strawberry.Private[bool] = False

    @classmethod
    def of(cls, row: UserRow, *, is_viewer: bool = False) -> User:
        return cls(id=strawberry.ID(encode_id("User", row.id)), row=row, is_viewer=is_viewer)

    @strawberry.field
    def role(self) -> Role:
        return self.row.role

    @strawberry.field
    def display_name(self) -> str:
        return self.row.display_name

    @strawberry.field(
        description='Masked for anyone but the user and regulators, e.g. "138****5678".'
    )
    def phone(self, info: Info) -> str:
        if self.is_viewer or scoping.sees_full_phone(info.context.principal, self.row.id):
            return self.row.phone
        return scoping.mask_phone(self.row.phone)

    @strawberry.field(description="The merchant a MERCHANT-role user works for.")
    async def merchant(
        self, info: Info
    ) -> Annotated[Merchant, strawberry.lazy("schema.merchants")] | None:
        from schema.merchants import Merchant

        if self.row.merchant_id is None:
            return None
        row = await info.context.loaders.merchant.load(self.row.merchant_id)
        return Merchant.of(row) if row else None

    @strawberry.field(description="The store a merchant staff member is bound to, if any.")
    async def store(
        self, info: Info
    ) -> Annotated[Store, strawberry.lazy("schema.merchants")] | None:
        from schema.merchants import Store

        if self.row.store_id is None:
            return None
        row = await info.context.loaders.store.load(self.row.store_id)
        return Store.of(row) if row else None

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at


@strawberry.type
class AuthPayload:
    access_token: str = strawberry.field(
        description="Short-lived access JWT for the Authorization: Bearer header."
    )
    refresh_token: str = strawberry.field(
        description="Long-lived, single-use token for refreshSession."
    )
    expires_at: dt.datetime
    user: User


@strawberry.input
class RegisterConsumerInput:
    phone: str
    password: str
    display_name: str


async def load_user(info: Info, user_id: int) -> User:
    """A user an object the caller could read points at (batched per request)."""
    row = await info.context.loaders.user.load(user_id)
    assert row is not None
    return User.of(row)
