"""Access JWTs (HS256, pinned) and opaque refresh tokens (stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from auth.principal import ANONYMOUS, Principal
from models.enums import Role
from services import clock
from services.errors import Unauthenticated
from settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "role", "iss", "aud", "iat", "exp"]


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime


def issue_access_token(
    settings: Settings,
    *,
    user_id: int,
    role: Role,
    merchant_id: int | None = None,
    store_id: int | None = None,
) -> AccessToken:
    issued = clock.now()
    expires = issued + timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": str(user_id),
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
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The access token has expired: refresh the session") from None
    except jwt.PyJWTError:
        raise Unauthenticated("The access token is not valid") from None
    try:
        role = Role(claims["role"])
        user_id = int(claims["sub"])
        merchant_id = _optional_int(claims.get("merchant"))
        store_id = _optional_int(claims.get("store"))
    except (ValueError, TypeError):
        raise Unauthenticated("The access token is not valid") from None
    if role is Role.MERCHANT and merchant_id is None:
        raise Unauthenticated("The access token is not valid")
    return Principal(user_id=user_id, role=role, merchant_id=merchant_id, store_id=store_id)


def principal_from_authorization(settings: Settings, header: str | None) -> Principal:
    """Anonymous without a header; the token's principal with `Bearer <token>`."""
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the access token as `Authorization: Bearer <token>`")
    return decode_access_token(settings, token.strip())


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("not an id")
    return int(value)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
