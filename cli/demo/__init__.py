"""Deterministic demo data for Huai'an (淮安): the laundry chain 淮安洁净洗衣连锁 with 20 stores,
about 300 other merchants in every status, a thousand consumers and four months of history.

`load_demo` first plans everything from one seeded random generator (plain data, no
database), then writes it in one database transaction: reference rows in bulk, then every
step of the history (reviews, purchases, top-ups, redemptions, refunds, complaints,
suspensions, closures, announcements) through the real services with the clock set back to
when it happened, so the ledger and the audit trail are what the API would have written.
Credit scores and risk alerts, which no service writes yet, are computed from the plan.
After that transaction the last week is paid again the two-step way through WeChat Pay's
simulator, and its channel bills and custody statements are written and reconciled.

How the modules fit: `plan` and `world` hold the plan and its generator; `words`,
`catalogue` and `texts` the material it draws on; `people`, `merchants`, `card_sales`,
`showcase`, `events` and `complaints` plan the demo (`card_steps` and `complaint_steps`
schedule the service calls), in the order `planner` runs them; `load` writes it with
`reference_rows`, then `credit`, `alerts` and `financing`; `channel_week` pays the last week
through the simulator and `statements` writes and reconciles its statements.
"""

from __future__ import annotations

from cli.demo.accounts import DEMO_ACCOUNTS, DEMO_CHAIN_CREDIT_CODE, DEMO_PASSWORD
from cli.demo.load import load_demo

__all__ = ["DEMO_ACCOUNTS", "DEMO_CHAIN_CREDIT_CODE", "DEMO_PASSWORD", "load_demo"]
