"""Root fields for the caller and the session mutations."""

from __future__ import annotations

from models import User as UserRow
from schema.accounts import AuthPayload, RegisterConsumerInput, User
from schema.context import Info
from services import accounts


def session_payload(session: accounts.Session) -> AuthPayload:
    return AuthPayload(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_at=session.expires_at,
        user=User.of(session.user, is_viewer=True),
    )


async def me(info: Info) -> User | None:
    principal = info.context.principal
    if principal.user_id is None:
        return None
    row = await UserRow.get_or_none(id=principal.user_id)
    return User.of(row) if row else None


async def register_consumer(info: Info, input: RegisterConsumerInput) -> AuthPayload:
    session = await accounts.register_consumer(
        phone=input.phone,
        password=input.password,
        display_name=input.display_name,
        client_address=info.context.client_address,
    )
    return session_payload(session)


async def login(info: Info, phone: str, password: str) -> AuthPayload:
    session = await accounts.login(
        phone=phone, password=password, client_address=info.context.client_address
    )
    return session_payload(session)


async def refresh_session(refresh_token: str) -> AuthPayload:
    return session_payload(await accounts.refresh_session(refresh_token))


async def logout(refresh_token: str) -> bool:
    return await accounts.logout(refresh_token)
