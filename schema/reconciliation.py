"""Reconciliation reports: each daily run over the channel's trade bill or the custody bank's
statement, with every difference it found; regulators read them and explain differences.

Runs come from `anfu reconcile channel|bank` (cli/reconcile.py); the rules are
services/reconciliation.py's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from models import ReconciliationDifference as DifferenceRow
from models import ReconciliationReport as ReportRow
from models.enums import DifferenceKind, ReconciliationSource, Role
from resolvers import reconciliation
from schema.context import Info
from schema.ids import decode_id, encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow
from schema.risk import RiskAlert
from schema.scalars import Money


def _money(fen: int | None) -> Money | None:
    return None if fen is None else Money(fen)


@strawberry.type
class ReconciliationDifference(Node):
    row: strawberry.Private[DifferenceRow]

    @classmethod
    def of(cls, row: DifferenceRow) -> ReconciliationDifference:
        return cls(id=strawberry.ID(encode_id("ReconciliationDifference", row.id)), row=row)

    @strawberry.field
    def kind(self) -> DifferenceKind:
        return self.row.kind

    @strawberry.field(
        description="out_trade_no or out_refund_no (channel), the custody instruction (bank)."
    )
    def reference(self) -> str:
        return self.row.reference

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant | None:
        if self.row.merchant_id is None:
            return None
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field(description="Signed: money out (a refund, a custody debit) is negative.")
    def ledger_amount(self) -> Money | None:
        return _money(self.row.ledger_amount_fen)

    @strawberry.field
    def statement_amount(self) -> Money | None:
        return _money(self.row.statement_amount_fen)

    @strawberry.field
    def ledger_status(self) -> str | None:
        return self.row.ledger_status

    @strawberry.field
    def statement_status(self) -> str | None:
        return self.row.statement_status

    @strawberry.field
    def detail(self) -> str:
        return self.row.detail

    @strawberry.field(description="Why it is no problem: a timing case, or a regulator's words.")
    def explanation(self) -> str | None:
        return self.row.explanation

    @strawberry.field
    async def alert(self, info: Info) -> RiskAlert | None:
        if self.row.alert_id is None:
            return None
        row = await info.context.loaders.risk_alert.load(self.row.alert_id)
        return RiskAlert.of(row) if row is not None else None


@strawberry.type
class ReconciliationReport(Node):
    row: strawberry.Private[ReportRow]

    @classmethod
    def of(cls, row: ReportRow) -> ReconciliationReport:
        return cls(id=strawberry.ID(encode_id("ReconciliationReport", row.id)), row=row)

    @strawberry.field
    def source(self) -> ReconciliationSource:
        return self.row.source

    @strawberry.field
    def statement_date(self) -> dt.date:
        return self.row.statement_date

    @strawberry.field(description="The statement's file name, or the bill downloaded.")
    def statement_name(self) -> str:
        return self.row.statement_name

    @strawberry.field
    def statement_sha256(self) -> str:
        return self.row.statement_sha256

    @strawberry.field
    def matched_count(self) -> int:
        return self.row.matched_count

    @strawberry.field(description="Net: money in minus money out.")
    def matched_amount(self) -> Money:
        return Money(self.row.matched_fen)

    @strawberry.field
    def statement_count(self) -> int:
        return self.row.statement_count

    @strawberry.field(description="Net: money in minus money out.")
    def statement_amount(self) -> Money:
        return Money(self.row.statement_fen)

    @strawberry.field
    def ledger_count(self) -> int:
        return self.row.ledger_count

    @strawberry.field(description="Net: money in minus money out.")
    def ledger_amount(self) -> Money:
        return Money(self.row.ledger_fen)

    @strawberry.field
    def difference_count(self) -> int:
        return self.row.difference_count

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field
    async def differences(self, info: Info) -> list[ReconciliationDifference]:
        rows = await info.context.loaders.differences_by_reconciliation_report.load(self.row.id)
        return [ReconciliationDifference.of(row) for row in rows]


@strawberry.type
class ReconciliationQuery:
    @strawberry.field(
        description="Regulators: every reconciliation run, newest first; `from` and `to` bound "
        "the statement's date (both included).",
        extensions=[allow(Role.REGULATOR)],
    )
    async def reconciliation_reports(
        self,
        info: Info,
        # Not `source`: strawberry's extensions take a parameter of that name.
        source_: Annotated[ReconciliationSource | None, strawberry.argument(name="source")] = None,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ReconciliationReport]:
        page = await reconciliation.reconciliation_reports(
            info.context.principal, source_, from_, to, first, after
        )
        return to_connection(page, ReconciliationReport.of)

    @strawberry.field(extensions=[allow(Role.REGULATOR)])
    async def reconciliation_report(
        self, info: Info, id: strawberry.ID
    ) -> ReconciliationReport | None:
        row = await reconciliation.reconciliation_report(
            info.context.principal, decode_id(id, "ReconciliationReport")
        )
        return ReconciliationReport.of(row) if row is not None else None


@strawberry.type
class ReconciliationMutation:
    @strawberry.mutation(
        description="Regulators write down why a difference is no problem; its alert is "
        "resolved when no unexplained difference holds it open.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def explain_reconciliation_difference(
        self, info: Info, difference_id: strawberry.ID, explanation: str
    ) -> ReconciliationDifference:
        row = await reconciliation.explain_reconciliation_difference(
            info.context.principal,
            decode_id(difference_id, "ReconciliationDifference"),
            explanation,
        )
        return ReconciliationDifference.of(row)
