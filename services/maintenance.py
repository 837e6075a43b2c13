"""What the server does now and then by itself (the lifespan's loops, server.py).

Each step is a conditional update or otherwise safe to run in several servers at once.
`run_round` (every MAINTENANCE_SECONDS): escalate overdue complaints, forget idempotency
keys past retention, run the risk rules over every merchant. `run_payments_round` (every
PAYMENT_SWEEP_SECONDS, so an unpaid order closes soon after its time): close payment orders
nobody paid (after asking the channel), send again channel refunds the channel could not
take and ask after those it left processing.
"""

from __future__ import annotations

import logging

from services import channel_refunds, complaints, idempotency, payment_orders, risk

log = logging.getLogger("anfu.maintenance")


async def run_round() -> None:
    escalated = await complaints.sweep_unanswered()
    if escalated:
        log.info("escalated %d overdue complaint(s) to mediation", escalated)
    forgotten = await idempotency.forget_expired()
    if forgotten:
        log.info("forgot %d idempotency key(s) past retention", forgotten)
    swept = await risk.sweep()
    if swept.raised:
        log.info("raised %d risk alert(s) over %d merchants", swept.raised, swept.merchants)


async def run_payments_round() -> None:
    closed = await payment_orders.close_expired()
    if closed:
        log.info("closed %d unpaid payment order(s)", closed)
    refunds = await channel_refunds.sweep()
    if refunds.sent or refunds.queried:
        log.info("channel refunds: %d sent again, %d asked after", refunds.sent, refunds.queried)
