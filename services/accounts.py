"""Accounts and sessions: registration, login, refresh-token rotation, logout, deactivation.

A session is a refresh-token family; its access tokens name it (`sid`), so that ending it
(logout, a reused refresh token, deactivation) ends them at once (auth/sessions.py).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth import passwords, sessions, tokens
from core import clock
from core.errors import BadInput, Unauthenticated
from models import RefreshToken, User
from models.enums import USER_ROLES, Role
from services import limits
from settings import get_settings

PHONE_PATTERN = re.compile(r"1[3-9][0-9]{9}")
MAX_NAME_LENGTH = 64
# Longer passwords cannot be right (the policy caps them): no need to hash all of one.
MAX_PASSWORD_CHECKED = passwords.MAX_PASSWORD_LENGTH + 1
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


@dataclass(frozen=True)
class NewAccount:
    """A new account's checked fields and its password hash, ready to insert."""

    phone: str
    display_name: str
    password_hash: str


async def prepare_account(*, phone: str, password: str, display_name: str) -> NewAccount:
    """Check a new account and hash its password: call it before opening a transaction, since
    hashing takes tens of milliseconds that a transaction would hold its connection for."""
    phone = check_phone(phone)
    display_name = check_display_name(display_name)
    passwords.check_password_policy(password)
    if await User.filter(phone=phone).exists():
        raise BadInput("An account with this phone number already exists")
    return NewAccount(phone, display_name, await passwords.hash_password_async(password))


async def insert_user(
    account: NewAccount,
    *,
    role: Role,
    merchant_id: int | None = None,
    store_id: int | None = None,
    is_merchant_owner: bool = False,
) -> User:
    """Create the prepared account; the phone number must still be new."""
    if role not in USER_ROLES:
        raise ValueError(f"No account has the role {role.value}")
    try:
        return await User.create(
            role=role,
            phone=account.phone,
            password_hash=account.password_hash,
            display_name=account.display_name,
            merchant_id=merchant_id,
            store_id=store_id,
            is_merchant_owner=is_merchant_owner,
            created_at=clock.now(),
        )
    except IntegrityError:
        raise BadInput("An account with this phone number already exists") from None


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
    account = await prepare_account(phone=phone, password=password, display_name=display_name)
    return await insert_user(
        account,
        role=role,
        merchant_id=merchant_id,
        store_id=store_id,
        is_merchant_owner=is_merchant_owner,
    )


async def register_consumer(
    *, phone: str, password: str, display_name: str, client_address: str | None = None
) -> Session:
    """A consumer account and its first session, both or neither."""
    await limits.count_registration(client_address)
    account = await prepare_account(phone=phone, password=password, display_name=display_name)
    async with in_transaction():
        user = await insert_user(account, role=Role.CONSUMER)
        return await start_session(user)


async def login(*, phone: str, password: str, client_address: str | None) -> Session:
    """One message for a wrong phone or a wrong password; failures are rate limited."""
    phone = phone.strip()
    attempts = await _count_attempt(phone, client_address)
    try:
        user = await _user_with_password(phone, password)
    except Unauthenticated:
        raise  # a wrong phone or password: the attempt counts
    except BaseException:
        # A fault of ours (the database is down...) is no failed login.
        await limits.take_back(attempts)
        raise
    # Only failures count: take this attempt back.
    await limits.take_back(attempts)
    return await start_session(user)


async def _user_with_password(phone: str, password: str) -> User:
    user = None
    if PHONE_PATTERN.fullmatch(phone) and len(password) <= passwords.MAX_PASSWORD_LENGTH:
        user = await User.get_or_none(phone=phone)
    if user is None or not user.is_active:
        # Verify anyway so that an unknown phone costs as much as a wrong password.
        await passwords.verify_password_async(
            passwords.dummy_hash(), password[:MAX_PASSWORD_CHECKED]
        )
        raise Unauthenticated(WRONG_CREDENTIALS)
    if not await passwords.verify_password_async(user.password_hash, password):
        raise Unauthenticated(WRONG_CREDENTIALS)
    return user


def _attempt_keys(phone: str, client_address: str | None) -> list[tuple[str, int]]:
    settings = get_settings()
    keys = []
    # A string that is no phone number gets no counter of its own: it cannot match an account,
    # and every distinct string would otherwise take a cache entry.
    if PHONE_PATTERN.fullmatch(phone):
        keys.append((f"login-failures:phone:{phone}", settings.login_failures_per_phone))
    if client_address:
        keys.append(
            (f"login-failures:address:{client_address}", settings.login_failures_per_address)
        )
    return keys


async def _count_attempt(phone: str, client_address: str | None) -> list[limits.Count]:
    """Count the attempt before checking the password, so that concurrent guesses cannot
    all slip under the limit; RATE_LIMITED once a phone or an address has used its share."""
    window = get_settings().login_window_seconds
    counts: list[limits.Count] = []
    try:
        for key, allowed in _attempt_keys(phone, client_address):
            counts.append(
                await limits.limit(
                    key,
                    allowed,
                    window,
                    "Too many failed logins; wait a few minutes and try again",
                )
            )
    except BaseException:
        await limits.take_back(counts)
        raise
    return counts


async def start_session(user: User, family: str | None = None) -> Session:
    """Issue an access token and a new refresh token (in `family` when rotating)."""
    settings = get_settings()
    family = family or str(uuid.uuid4())
    access = tokens.issue_access_token(
        settings,
        user_id=user.id,
        role=user.role,
        session_id=family,
        merchant_id=user.merchant_id,
        store_id=user.store_id,
    )
    refresh = tokens.new_refresh_token()
    now = clock.now()
    await RefreshToken.create(
        user_id=user.id,
        token_hash=tokens.hash_refresh_token(refresh),
        family=family,
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
    # A reuse may revoke the family while a racing refresh is still adding its new token, which
    # then escapes the revocation: a family with any revoked token is revoked as a whole.
    if await RefreshToken.filter(family=stored.family, revoked_at__isnull=False).exists():
        await revoke_family(stored.family)
        raise Unauthenticated("The session has ended; log in again")
    # Claim the token with an UPDATE that matches it only while unspent: of two refreshes
    # racing with it, only one sees a row count of 1.
    spent = await RefreshToken.filter(
        id=stored.id, used_at__isnull=True, revoked_at__isnull=True
    ).update(used_at=now)
    if spent != 1:
        await revoke_family(stored.family)
        raise Unauthenticated("The refresh token was already used; the session is revoked")
    user = await User.get_or_none(id=stored.user_id)
    if user is None or not user.is_active:
        await revoke_family(stored.family)
        raise Unauthenticated("The session has ended; log in again")
    return await start_session(user, family=stored.family)


async def revoke_family(family: str) -> int:
    """End a session: its refresh tokens, and its access tokens at once."""
    revoked = await RefreshToken.filter(family=family, revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )
    await sessions.revoke_session(family)
    return revoked


async def logout(refresh_token: str) -> bool:
    """End the session the refresh token belongs to; False when there was none to end."""
    stored = await RefreshToken.get_or_none(token_hash=tokens.hash_refresh_token(refresh_token))
    if stored is None:
        return False
    return await revoke_family(stored.family) > 0


async def deactivate_user(user_id: int) -> bool:
    """The account signs in no more and every session it has ends now; False when it was
    already inactive (its sessions are ended again all the same)."""
    changed = await User.filter(id=user_id, is_active=True).update(is_active=False)
    await RefreshToken.filter(user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )
    await sessions.revoke_user(user_id)
    return changed == 1
