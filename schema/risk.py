"""Risk alerts: the risk domain's types and its root fields.

The root types in schema/root.py merge RiskQuery, RiskMutation and
RiskSubscription with the other domains'; each field declares who may call it
(schema/permissions.py) and hands the decoded arguments to resolvers/risk.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import strawberry

from models import RiskAlert as RiskAlertRow
from models.enums import Role
from resolvers import risk
from schema.cards import Transaction
from schema.context import Info
from schema.enums import AlertStatus, RiskAlertKind, RiskLevel
from schema.ids import decode_id, encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow


@strawberry.type
class RiskMetric:
    name: str
    value: float
    threshold: float


@strawberry.type
class RiskAlert(Node):
    row: strawberry.Private[RiskAlertRow]

    @classmethod
    def of(cls, row: RiskAlertRow) -> RiskAlert:
        return cls(id=strawberry.ID(encode_id("RiskAlert", row.id)), row=row)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field
    def kind(self) -> RiskAlertKind:
        return self.row.kind

    @strawberry.field
    def severity(self) -> RiskLevel:
        return self.row.severity

    @strawberry.field
    def status(self) -> AlertStatus:
        return self.row.status

    @strawberry.field
    def summary(self) -> str:
        return self.row.summary

    @strawberry.field
    def metrics(self) -> list[RiskMetric]:
        return [
            RiskMetric(
                name=str(m["name"]), value=float(m["value"]), threshold=float(m["threshold"])
            )
            for m in self.row.metrics or []
        ]

    @strawberry.field
    async def transactions(self, info: Info) -> list[Transaction]:
        loaders = info.context.loaders
        transfer_ids = await loaders.transfer_ids_by_risk_alert.load(self.row.id)
        rows = await loaders.transfer.load_many(transfer_ids)
        return [Transaction.of(row) for row in rows if row is not None and row.card_id is not None]

    @strawberry.field
    def raised_at(self) -> dt.datetime:
        return self.row.raised_at

    @strawberry.field
    def resolved_at(self) -> dt.datetime | None:
        return self.row.resolved_at

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note


@strawberry.input
class RiskAlertFilter:
    merchant_id: strawberry.ID | None = None
    kind: RiskAlertKind | None = None
    status: AlertStatus | None = None
    min_severity: RiskLevel | None = None


@strawberry.type
class RiskQuery:
    @strawberry.field(
        description="Regulators see every merchant's alerts, a merchant its own; newest first.",
        extensions=[allow(Role.MERCHANT, Role.REGULATOR)],
    )
    async def risk_alerts(
        self,
        info: Info,
        filter: RiskAlertFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RiskAlert]:
        filter = filter or RiskAlertFilter()
        page = await risk.risk_alerts(
            info.context.principal,
            merchant_id=decode_id(filter.merchant_id, "Merchant") if filter.merchant_id else None,
            kind=filter.kind,
            status=filter.status,
            min_severity=filter.min_severity,
            first=first,
            after=after,
        )
        return to_connection(page, RiskAlert.of)


@strawberry.type
class RiskMutation:
    @strawberry.mutation(
        description="Regulators: OPEN moves to ACKNOWLEDGED, RESOLVED or DISMISSED, and "
        "ACKNOWLEDGED to RESOLVED or DISMISSED; a note given is kept.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def update_risk_alert(
        self, info: Info, alert_id: strawberry.ID, status: AlertStatus, note: str | None = None
    ) -> RiskAlert:
        row = await risk.update_risk_alert(
            info.context.principal, decode_id(alert_id, "RiskAlert"), status, note
        )
        return RiskAlert.of(row)


@strawberry.type
class RiskSubscription:
    @strawberry.subscription(
        description="Regulators: every risk alert as it is raised.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def risk_alert_raised(self, info: Info) -> AsyncIterator[RiskAlert]:
        async for row in risk.risk_alerts_raised(info.context.principal):
            # Fresh loaders per event: the merchant's risk level has just changed.
            info.context.reset_loaders()
            yield RiskAlert.of(row)
