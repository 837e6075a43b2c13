"""Risk alerts through the real rules (services/risk.py): the history's own operations ran
them day by day as it was replayed (cli/demo/load.py); here regulators handle the alerts
raised over a fortnight ago, and last night's sweep runs the rules that time alone trips
(a stall of redemptions, stores closed). The demo keeps no detection of its own.
"""

from __future__ import annotations

from datetime import timedelta

from cli.demo.texts import ALERT_NOTES
from cli.demo.world import World, fixed_clock
from core import clock
from models import RiskAlert
from models.enums import AlertStatus
from services import risk

SWEEP = 23 * 60  # 23:00 local time, before the nightly scores


async def write_alerts(world: World) -> None:
    rng = world.rng
    handled_before = world.at(-14, 0)
    old = await RiskAlert.filter(status=AlertStatus.OPEN, raised_at__lt=handled_before).order_by(
        "raised_at", "id"
    )
    for alert in old:
        clock.set_clock(fixed_clock(alert.raised_at + timedelta(days=rng.randrange(1, 5))))
        status = rng.choice((AlertStatus.RESOLVED, AlertStatus.RESOLVED, AlertStatus.ACKNOWLEDGED))
        await risk.update_alert(world.regulator(), alert.id, status, rng.choice(ALERT_NOTES))
    at = world.at(-1, SWEEP)
    clock.set_clock(fixed_clock(at))
    await risk.sweep(at)
