"""Accounts and sessions: registration, login, refresh-token rotation, logout."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth import passwords, tokens
from models import RefreshToken, User
from models.enums import Role
from services import cache, clock
from services.errors import BadInput, RateLimited, Unauthenticated
from settings import get_settings

PHONE_PATTERN = re.compile(r"1[3-9][0-9]{9}")
MAX_NAME_LENGTH = 64
LOGIN_FAILURES_PER_PHONE = 5
LOGIN_FAILURES_PER_ADDRESS = 30
LOGIN_WINDOW_SECONDS = 15 * 60
WRONG_CREDENTIALS = "Wrong phone number or password"


@dataclass(frozen=True)
class Session:
    """What a successful login or refresh hands back."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    user: User


def check_phone(phone: str) -> str:
    phone = phone.strip()
    if not PHONE_PATTERN.fullmatch(phone):
        raise BadInput("A phone number is a mainland mobile number of 11 digits, e.g. 13812345678")
    return phone


def check_display_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadInput(f"A display name has 1 to {MAX_NAME_LENGTH} characters")
    return name


async def create_user(
    *,
    role: Role,
    phone: str,
    password: str,
    display_name: str,
    merchant_id: int | None = None,
    store_id: int | None = None,
    is_merchant_owner: bool = False,
) -> User:
    """Validate and create an account; the phone number must be new."""
    phone = check_phone(phone)
    display_name = check_display_name(display_name)
    passwords.check_password_policy(password)
    if await User.filter(phone=phone).exists():
        raise BadInput("An account with this phone number already exists")
    try:
        return await User.create(
            role=role,
            phone=phone,
            password_hash=passwords.hash_password(password),
            display_name=display_name,
            merchant_id=merchant_id,
            store_id=store_id,
            is_merchant_owner=is_merchant_owner,
            created_at=clock.now(),
        )
    except IntegrityError:
        raise BadInput("An account with this phone number already exists") from None


async def register_consumer(*, phone: str, password: str, display_name: str) -> Session:
    user = await create_user(
        role=Role.CONSUMER, phone=phone, password=password, display_name=display_name
    )
    return await start_session(user)


async def login(*, phone: str, password: str, client_address: str | None) -> Session:
    """One message for a wrong phone or a wrong password; failures are rate limited."""
    await _check_not_locked_out(phone, client_address)
    user = await User.get_or_none(phone=phone.strip())
    if user is None or not user.is_active:
        passwords.verify_password(passwords.dummy_hash(), password)
        await _count_failure(phone, client_address)
        raise Unauthenticated(WRONG_CREDENTIALS)
    if not passwords.verify_password(user.password_hash, password):
        await _count_failure(phone, client_address)
        raise Unauthenticated(WRONG_CREDENTIALS)
    return await start_session(user)


def _failure_keys(phone: str, client_address: str | None) -> list[tuple[str, int]]:
    keys = [(f"login-failures:phone:{phone.strip()}", LOGIN_FAILURES_PER_PHONE)]
    if client_address:
        keys.append((f"login-failures:address:{client_address}", LOGIN_FAILURES_PER_ADDRESS))
    return keys


async def _check_not_locked_out(phone: str, client_address: str | None) -> None:
    for key, limit in _failure_keys(phone, client_address):
        if int(await cache.cache().get(key) or 0) >= limit:
            raise RateLimited("Too many failed logins; wait a few minutes and try again")


async def _count_failure(phone: str, client_address: str | None) -> None:
    for key, _limit in _failure_keys(phone, client_address):
        await cache.hit(key, LOGIN_WINDOW_SECONDS)


async def start_session(user: User, family: str | None = None) -> Session:
    """Issue an access token and a new refresh token (in `family` when rotating)."""
    settings = get_settings()
    access = tokens.issue_access_token(
        settings,
        user_id=user.id,
        role=user.role,
        merchant_id=user.merchant_id,
        store_id=user.store_id,
    )
    refresh = tokens.new_refresh_token()
    now = clock.now()
    await RefreshToken.create(
        user_id=user.id,
        token_hash=tokens.hash_refresh_token(refresh),
        family=family or str(uuid.uuid4()),
        created_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_days),
    )
    return Session(access.token, refresh, access.expires_at, user)


async def refresh_session(refresh_token: str) -> Session:
    """Spend a refresh token for a new session; a token spent twice revokes its whole family."""
    stored = await RefreshToken.get_or_none(token_hash=tokens.hash_refresh_token(refresh_token))
    if stored is None:
        raise Unauthenticated("The refresh token is not valid")
    now = clock.now()
    if stored.revoked_at is not None or stored.expires_at <= now:
        raise Unauthenticated("The session has ended; log in again")
    async with in_transaction():
        # Claim the token: only one refresh can spend it, even when two race.
        spent = await RefreshToken.filter(
            id=stored.id, used_at__isnull=True, revoked_at__isnull=True
        ).update(used_at=now)
    if spent != 1:
        await revoke_family(stored.family)
        raise Unauthenticated("The refresh token was already used; the session is revoked")
    user = await User.get(id=stored.user_id)
    if not user.is_active:
        await revoke_family(stored.family)
        raise Unauthenticated("The session has ended; log in again")
    return await start_session(user, family=stored.family)


async def revoke_family(family: str) -> int:
    return await RefreshToken.filter(family=family, revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )


async def logout(refresh_token: str) -> bool:
    """End the session the refresh token belongs to; False when there was none to end."""
    stored = await RefreshToken.get_or_none(token_hash=tokens.hash_refresh_token(refresh_token))
    if stored is None:
        return False
    return await revoke_family(stored.family) > 0
