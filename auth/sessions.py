"""Whether an access token still stands: its session not ended, its user there and active.

A token is signed for its whole life (15 minutes), so ending a session before then needs a
list of what was ended. Logout, a reused refresh token and a deactivated account put an entry
in the shared cache (`revoked:session:<sid>`, `revoked:user:<id>` with the time), kept as long
as a token issued just before could live; every request with a token reads both entries in
one round trip. That is the whole cost on the hot path: no database query.

The database stays the source of truth (a revoked refresh-token family, `users.is_active`).
Each process looks at a user's and session's rows the first time it sees them and again
after SESSION_RECHECK_SECONDS, which refuses tokens of users that do not exist and catches a
revocation whose cache entry was lost (written while the cache was down). While the cache is
down, every request looks at the rows instead (two indexed queries).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from auth.tokens import CLOCK_SKEW_SECONDS, INVALID_TOKEN, VerifiedToken, bearer_token
from auth.tokens import verify_access_token as verify
from core import cache, clock
from core.errors import Unauthenticated
from core.principal import ANONYMOUS, Principal
from models import RefreshToken, User
from settings import Settings, get_settings

log = logging.getLogger(__name__)

SESSION_KEY = "revoked:session:"
USER_KEY = "revoked:user:"
SESSION_ENDED = "The session has ended; log in again"
# Sessions whose rows this process looked at, at most; the least recently seen go first.
KNOWN_CAPACITY = 50_000


class KnownSessions:
    """(user, session) pairs whose rows were fine when last looked at, with the time."""

    def __init__(self, capacity: int = KNOWN_CAPACITY) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[int, str], float] = OrderedDict()

    def fresh(self, key: tuple[int, str], max_age: float) -> bool:
        seen = self._seen.get(key)
        if seen is None or time.monotonic() - seen >= max_age:
            return False
        self._seen.move_to_end(key)
        return True

    def remember(self, key: tuple[int, str]) -> None:
        self._seen[key] = time.monotonic()
        self._seen.move_to_end(key)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def forget(self, *, user_id: int | None = None, session_id: str | None = None) -> None:
        for key in [k for k in self._seen if k[0] == user_id or k[1] == session_id]:
            del self._seen[key]

    def clear(self) -> None:
        self._seen.clear()


known = KnownSessions()


async def authenticate(settings: Settings, header: str | None) -> Principal:
    """Anonymous without a header; else the token's principal if the token is right and its
    session and user still stand (UNAUTHENTICATED otherwise)."""
    verified = await authenticate_token(settings, header)
    return ANONYMOUS if verified is None else verified.principal


async def authenticate_token(settings: Settings, header: str | None) -> VerifiedToken | None:
    """The checked token of an Authorization header (None without one), to check again later
    (a WebSocket connection outlives the moment it was opened)."""
    token = bearer_token(header)
    if token is None:
        return None
    verified = verify(settings, token)
    await check(verified, settings)
    return verified


async def check(verified: VerifiedToken, settings: Settings) -> None:
    """Refuse a token whose session was ended or whose user was deactivated or is unknown."""
    user_id = verified.principal.require_user()
    session_id = verified.session_id
    try:
        session_ended, user_revoked_at = await cache.shared(
            lambda store: store.multi_get([SESSION_KEY + session_id, USER_KEY + str(user_id)])
        )
    except cache.CacheUnavailable:
        await _check_rows(user_id, session_id)
        return
    if session_ended is not None:
        raise Unauthenticated(SESSION_ENDED)
    if isinstance(user_revoked_at, int) and verified.issued_at <= user_revoked_at:
        raise Unauthenticated(SESSION_ENDED)
    if not known.fresh((user_id, session_id), settings.session_recheck_seconds):
        await _check_rows(user_id, session_id)


async def _check_rows(user_id: int, session_id: str) -> None:
    active = await User.filter(id=user_id).values_list("is_active", flat=True)
    if not active:
        # Signed by us for a user that is not there (deleted, or another database).
        raise Unauthenticated(INVALID_TOKEN)
    if not active[0]:
        raise Unauthenticated(SESSION_ENDED)
    if await RefreshToken.filter(family=session_id, revoked_at__isnull=False).exists():
        raise Unauthenticated(SESSION_ENDED)
    known.remember((user_id, session_id))


def _entry_ttl() -> int:
    """Long enough that every token issued before the revocation has expired."""
    return get_settings().access_token_minutes * 60 + 2 * CLOCK_SKEW_SECONDS


async def revoke_session(session_id: str) -> None:
    """End the session's access tokens now, in every process."""
    known.forget(session_id=session_id)
    await _put(SESSION_KEY + session_id, 1)


async def revoke_user(user_id: int) -> None:
    """End every access token the user holds now, in every process."""
    known.forget(user_id=user_id)
    await _put(USER_KEY + str(user_id), int(clock.now().timestamp()))


async def _put(key: str, value: Any) -> None:
    try:
        await cache.shared(lambda store: store.set(key, value, ttl=_entry_ttl()))
    except cache.CacheUnavailable:
        # The database has the revocation: other processes see it at their next look at the
        # rows (SESSION_RECHECK_SECONDS), and at once while the cache stays down.
        log.error("could not record revocation %s in the shared cache", key)
