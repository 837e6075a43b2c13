"""What the server does now and then by itself (the lifespan's loop, server.py).

Each step is a conditional update or otherwise safe to run in several servers at once:
escalate overdue complaints, forget idempotency keys past retention, close payment orders
nobody paid (after asking the channel), and run the risk rules over every merchant.
"""

from __future__ import annotations

import logging

from services import complaints, idempotency, payment_orders, risk

log = logging.getLogger("anfu.maintenance")


async def run_round() -> None:
    escalated = await complaints.sweep_unanswered()
    if escalated:
        log.info("escalated %d overdue complaint(s) to mediation", escalated)
    forgotten = await idempotency.forget_expired()
    if forgotten:
        log.info("forgot %d idempotency key(s) past retention", forgotten)
    closed = await payment_orders.close_expired()
    if closed:
        log.info("closed %d unpaid payment order(s)", closed)
    swept = await risk.sweep()
    if swept.raised:
        log.info("raised %d risk alert(s) over %d merchants", swept.raised, swept.merchants)
