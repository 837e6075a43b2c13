"""The accounts domain for the API: the caller, and the sessions of registration and login."""

from __future__ import annotations

from auth import scoping
from core.principal import Principal
from models import User
from services import accounts
from services.accounts import Session


async def me(principal: Principal) -> User | None:
    if principal.user_id is None:
        return None
    return await scoping.readable_users(principal).get_or_none(id=principal.user_id)


async def register_consumer(
    *, phone: str, password: str, display_name: str, client_address: str | None
) -> Session:
    return await accounts.register_consumer(
        phone=phone, password=password, display_name=display_name, client_address=client_address
    )


async def login(phone: str, password: str, client_address: str | None) -> Session:
    return await accounts.login(phone=phone, password=password, client_address=client_address)


async def refresh_session(refresh_token: str) -> Session:
    return await accounts.refresh_session(refresh_token)


async def logout(refresh_token: str) -> bool:
    return await accounts.logout(refresh_token)
