"""Exactly-once money mutations under a caller's idempotency key.

The key is claimed first inside the operation's own database transaction: a
concurrent request with the same key blocks on the unique index, fails when the
first commits, and then returns the first result. A failed operation rolls its
claim back, so only successful results are remembered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import clock
from core.errors import BadInput, DomainError, ErrorCode
from models import IdempotencyRecord, Transfer

MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
_ATTEMPTS = 3


class IdempotencyConflict(DomainError):
    code = ErrorCode.IDEMPOTENCY_CONFLICT


def request_fingerprint(operation: str, arguments: dict[str, Any]) -> str:
    payload = json.dumps({"operation": operation, "arguments": arguments}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def check_key(key: str) -> None:
    if not key or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise BadInput(f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters")


async def run_once(
    *,
    user_id: int,
    key: str,
    operation: str,
    arguments: dict[str, Any],
    action: Callable[[], Awaitable[Transfer]],
) -> tuple[Transfer, bool]:
    """Run `action` in a transaction once per (caller, key); returns (transfer, replayed)."""
    check_key(key)
    fingerprint = request_fingerprint(operation, arguments)
    for _attempt in range(_ATTEMPTS):
        replayed = await find_replay(user_id, key, operation, arguments)
        if replayed is not None:
            return replayed, True
        try:
            async with in_transaction():
                record = await IdempotencyRecord.create(
                    user_id=user_id,
                    key=key,
                    operation=operation,
                    request_hash=fingerprint,
                    created_at=clock.now(),
                )
                transfer = await action()
                record.transfer_id = transfer.id
                await record.save(update_fields=["transfer_id"])
            return transfer, False
        except IntegrityError:
            # Lost a race: another request took the key (replayed above on the next
            # pass) or created the same ledger account first (simply retried).
            continue
    raise DomainError("The operation collided with others; try again", code=ErrorCode.INVALID_STATE)


async def find_replay(
    user_id: int, key: str, operation: str, arguments: dict[str, Any]
) -> Transfer | None:
    """The first result under this key, None when the key is new, or IDEMPOTENCY_CONFLICT."""
    record = await IdempotencyRecord.get_or_none(user_id=user_id, key=key)
    if record is None:
        return None
    if record.operation != operation or record.request_hash != request_fingerprint(
        operation, arguments
    ):
        raise IdempotencyConflict(
            "This idempotency key was already used with other arguments; use a new key"
        )
    assert record.transfer_id is not None
    return await Transfer.get(id=record.transfer_id)


async def forget_expired() -> int:
    """Delete records older than the retention period; returns how many."""
    return await IdempotencyRecord.filter(created_at__lt=clock.now() - RETENTION).delete()
