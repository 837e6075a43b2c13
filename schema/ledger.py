"""The ledger domain: custody accounts, ledger entries and the custody ratio mutation.

A transfer is cash between accounts (services/ledger.py); what a card's holder sees of
it is a card transaction (schema/cards.py `Transaction`), whose postings regulators read
here as ledger entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from models import Merchant as MerchantRow
from models import Posting as PostingRow
from models.enums import Role
from resolvers import ledger
from schema.context import Info
from schema.enums import LedgerSide
from schema.ids import decode_id
from schema.permissions import allow
from schema.scalars import Money
from services.custody import bp_to_ratio
from services.ledger import escrow_account, settlement_account

if TYPE_CHECKING:
    from schema.merchants import Merchant


@strawberry.type(description="Prepaid cash of one merchant held in the platform's custody account.")
class EscrowAccount:
    merchant_row: strawberry.Private[MerchantRow]

    @strawberry.field
    def merchant(self) -> Annotated[Merchant, strawberry.lazy("schema.merchants")]:
        from schema.merchants import Merchant

        return Merchant.of(self.merchant_row)

    @strawberry.field(description="Share of each sale kept in custody until redemption (0 to 1).")
    def custody_ratio(self) -> float:
        return bp_to_ratio(self.merchant_row.custody_ratio_bp)

    @strawberry.field(description="Cash in custody now.")
    async def held(self, info: Info) -> Money:
        return Money(
            await info.context.loaders.ledger_balance.load(escrow_account(self.merchant_row.id))
        )

    @strawberry.field(
        description="Cash released to the merchant so far, net of refunds clawed back "
        "(negative when the merchant owes refunds)."
    )
    async def released(self, info: Info) -> Money:
        return Money(
            await info.context.loaders.ledger_balance.load(settlement_account(self.merchant_row.id))
        )

    @strawberry.field(
        description="Cash value of all live cards: what refunding everyone would cost."
    )
    async def outstanding_liability(self, info: Info) -> Money:
        return Money(await info.context.loaders.liability_by_merchant.load(self.merchant_row.id))

    @strawberry.field(description="held / outstandingLiability (1 when there is no liability).")
    async def coverage_ratio(self, info: Info) -> float:
        liability = await info.context.loaders.liability_by_merchant.load(self.merchant_row.id)
        if liability <= 0:
            return 1.0
        held = await info.context.loaders.ledger_balance.load(escrow_account(self.merchant_row.id))
        return round(held / liability, 4)


@strawberry.type
class LedgerEntry:
    account: str = strawberry.field(
        description="e.g. escrow:merchant:42, merchant_settlement:42, consumer_funds."
    )
    side: LedgerSide
    amount: Money

    @classmethod
    def of(cls, posting: PostingRow) -> LedgerEntry:
        return cls(account=posting.account, side=posting.side, amount=Money(posting.amount_fen))


@strawberry.type
class LedgerMutation:
    @strawberry.mutation(
        description="Regulators: the share of prepaid cash kept in custody (0.4 to 1.0); "
        "every live card of the merchant is re-balanced to it.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def set_custody_ratio(
        self, info: Info, merchant_id: strawberry.ID, ratio: float, reason: str
    ) -> EscrowAccount:
        merchant = await ledger.set_custody_ratio(
            info.context.principal, decode_id(merchant_id, "Merchant"), ratio, reason
        )
        return EscrowAccount(merchant_row=merchant)
