"""Access JWTs (HS256, pinned) and opaque refresh tokens (stored as SHA-256)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from core import clock
from core.errors import Unauthenticated
from core.principal import ANONYMOUS, Principal
from models.enums import USER_ROLES, Role
from settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "sid", "role", "iss", "aud", "iat", "exp"]
INVALID_TOKEN = "The access token is not valid"
# Tolerated lead of a token's `iat` over our clock: several server processes issue tokens.
CLOCK_SKEW_SECONDS = 60
# A session id is the refresh-token family's (a UUID); tests make their own of this shape.
SESSION_ID = re.compile(r"[A-Za-z0-9-]{1,36}")


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims are right; auth/sessions.py says if it still stands."""

    principal: Principal
    session_id: str
    issued_at: int
    expires_at: int


def issue_access_token(
    settings: Settings,
    *,
    user_id: int,
    role: Role,
    session_id: str,
    merchant_id: int | None = None,
    store_id: int | None = None,
) -> AccessToken:
    """An access token for one session (`sid`: the refresh-token family), so that ending the
    session ends the token too."""
    if role not in USER_ROLES:
        raise ValueError(f"No token carries the role {role.value}")
    if not SESSION_ID.fullmatch(session_id):
        raise ValueError("A session id is a UUID")
    issued = clock.now()
    expires = issued + timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": session_id,
        "role": role.value,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if merchant_id is not None:
        claims["merchant"] = merchant_id
    if store_id is not None:
        claims["store"] = store_id
    return AccessToken(jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM), expires)


def decode_access_token(settings: Settings, token: str) -> Principal:
    """The principal a token stands for, or Unauthenticated for anything not exactly right."""
    return verify_access_token(settings, token).principal


def verify_access_token(settings: Settings, token: str) -> VerifiedToken:
    """The token's checked claims, or Unauthenticated for anything not exactly right."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            # Times are checked below against core.clock, the clock that issued them.
            options={
                "require": REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        raise Unauthenticated(INVALID_TOKEN) from None
    now = clock.now().timestamp()
    try:
        expires = _timestamp(claims["exp"])
        issued = _timestamp(claims["iat"])
        not_before = _timestamp(claims["nbf"]) if "nbf" in claims else None
        role = Role(claims["role"])
        user_id = _id(claims["sub"])
        merchant_id = _optional_id(claims.get("merchant"))
        store_id = _optional_id(claims.get("store"))
        session_id = claims["sid"]
        if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
            raise ValueError("not a session id")
    except (ValueError, TypeError):
        raise Unauthenticated(INVALID_TOKEN) from None
    if issued > now + CLOCK_SKEW_SECONDS or (
        not_before is not None and not_before > now + CLOCK_SKEW_SECONDS
    ):
        raise Unauthenticated(INVALID_TOKEN)
    if expires <= now:
        raise Unauthenticated("The access token has expired: refresh the session")
    # SYSTEM names what the platform does by itself: no caller acts as the platform.
    if role not in USER_ROLES or (role is Role.MERCHANT and merchant_id is None):
        raise Unauthenticated(INVALID_TOKEN)
    principal = Principal(
        user_id=user_id,
        role=role,
        merchant_id=merchant_id,
        store_id=store_id,
        session_id=session_id,
    )
    return VerifiedToken(principal, session_id, issued, expires)


def bearer_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`; None without a header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the access token as `Authorization: Bearer <token>`")
    return token.strip()


def principal_from_authorization(settings: Settings, header: str | None) -> Principal:
    """Anonymous without a header; the token's principal with `Bearer <token>` (signature and
    claims only: auth/sessions.authenticate also asks whether the session still stands)."""
    token = bearer_token(header)
    return ANONYMOUS if token is None else decode_access_token(settings, token)


def _timestamp(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a NumericDate")
    return value


def _id(value: object) -> int:
    """A row id: the server writes `sub` as a decimal string, other ids as integers."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("not an id")
    return value


def _optional_id(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError("not an id")
    return _id(value)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
