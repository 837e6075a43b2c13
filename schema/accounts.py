"""The accounts domain: users, the payloads of registration and login, and their root fields.

The root types in schema/root.py merge AccountsQuery and AccountsMutation with the other
domains'; each field declares who may call it (schema/permissions.py) and hands plain
arguments to resolvers/accounts.py.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth import scoping
from models import User as UserRow
from resolvers import accounts
from schema.context import Info
from schema.enums import Role
from schema.ids import encode_id
from schema.node import Node
from schema.permissions import anyone

if TYPE_CHECKING:
    from schema.merchants import Merchant, Store
    from services.accounts import Session


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

    @classmethod
    def of(cls, session: Session) -> AuthPayload:
        return cls(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            expires_at=session.expires_at,
            user=User.of(session.user, is_viewer=True),
        )


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


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The caller; null when anonymous.", extensions=[anyone()])
    async def me(self, info: Info) -> User | None:
        row = await accounts.me(info.context.principal)
        return User.of(row) if row else None


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(extensions=[anyone()])
    async def register_consumer(self, info: Info, input: RegisterConsumerInput) -> AuthPayload:
        session = await accounts.register_consumer(
            phone=input.phone,
            password=input.password,
            display_name=input.display_name,
            client_address=info.context.client_address,
        )
        return AuthPayload.of(session)

    @strawberry.mutation(extensions=[anyone()])
    async def login(self, info: Info, phone: str, password: str) -> AuthPayload:
        return AuthPayload.of(await accounts.login(phone, password, info.context.client_address))

    @strawberry.mutation(extensions=[anyone()])
    async def refresh_session(self, refresh_token: str) -> AuthPayload:
        return AuthPayload.of(await accounts.refresh_session(refresh_token))

    @strawberry.mutation(extensions=[anyone()])
    async def logout(self, refresh_token: str) -> bool:
        return await accounts.logout(refresh_token)
