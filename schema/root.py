"""The root types: every domain's root fields, merged.

Each domain's schema module declares its own `<Domain>Query`, `<Domain>Mutation` and
`<Domain>Subscription`, each field with its role rule (docs/architecture.md); this module
only merges them.
"""

from __future__ import annotations

from strawberry.tools import merge_types

from schema.accounts import AccountsMutation, AccountsQuery
from schema.announcements import AnnouncementsMutation, AnnouncementsQuery
from schema.cards import CardsMutation, CardsQuery, CardsSubscription
from schema.complaints import ComplaintsMutation, ComplaintsQuery
from schema.credit import CreditMutation
from schema.financing import FinancingMutation, FinancingQuery
from schema.ledger import LedgerMutation
from schema.merchant_mutations import MerchantsMutation
from schema.merchants import MerchantsQuery
from schema.node_field import NodeQuery
from schema.onboarding import OnboardingMutation, OnboardingQuery
from schema.payments import PaymentsMutation, PaymentsQuery
from schema.payouts import PayoutsMutation, PayoutsQuery
from schema.reconciliation import ReconciliationMutation, ReconciliationQuery
from schema.refunds import RefundsMutation, RefundsQuery
from schema.risk import RiskMutation, RiskQuery, RiskSubscription
from schema.supervision import SupervisionMutation, SupervisionQuery

Query = merge_types(
    "Query",
    (
        NodeQuery,
        AccountsQuery,
        MerchantsQuery,
        OnboardingQuery,
        CardsQuery,
        PaymentsQuery,
        RefundsQuery,
        PayoutsQuery,
        ComplaintsQuery,
        RiskQuery,
        FinancingQuery,
        SupervisionQuery,
        ReconciliationQuery,
        AnnouncementsQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountsMutation,
        MerchantsMutation,
        OnboardingMutation,
        CardsMutation,
        PaymentsMutation,
        RefundsMutation,
        PayoutsMutation,
        LedgerMutation,
        ComplaintsMutation,
        CreditMutation,
        RiskMutation,
        FinancingMutation,
        SupervisionMutation,
        ReconciliationMutation,
        AnnouncementsMutation,
    ),
)
Subscription = merge_types("Subscription", (CardsSubscription, RiskSubscription))
