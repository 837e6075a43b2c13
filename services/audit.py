"""The audit trail of regulators' actions: who, when, what and why."""

from __future__ import annotations

from typing import Any

from core import clock
from models import AuditEntry


async def record(
    *,
    actor_id: int,
    action: str,
    subject_type: str,
    subject_id: int,
    merchant_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one entry; call inside the transaction of the action it records."""
    return await AuditEntry.create(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        merchant_id=merchant_id,
        reason=reason,
        details=details or {},
        at=clock.now(),
    )
