"""Merchant onboarding: an application checked against the registry, a regulator's review,
and the registry records a reviewer reads (a module of the merchants domain).

The root types in schema/root.py merge OnboardingQuery and OnboardingMutation with the other
domains'; each field declares who may call it (schema/permissions.py) and hands plain values
to resolvers/onboarding.py.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from models import RegistryRecord as RegistryRecordRow
from models.enums import Role
from resolvers import onboarding
from schema.accounts import AuthPayload
from schema.context import Info
from schema.ids import decode_id
from schema.merchant_mutations import StoreInput
from schema.merchants import Merchant
from schema.permissions import allow, anyone
from schema.scalars import Money
from services.onboarding import Application


@strawberry.input
class RegisterMerchantInput:
    name: str
    credit_code: str
    legal_representative: str
    category_code: strawberry.ID
    contact_phone: str = strawberry.field(description="Also the owner's login phone.")
    password: str
    stores: list[StoreInput]

    def application(self) -> Application:
        return Application(
            name=self.name,
            credit_code=self.credit_code,
            legal_representative=self.legal_representative,
            category_code=str(self.category_code),
            contact_phone=self.contact_phone,
            password=self.password,
            stores=[store.draft() for store in self.stores],
        )


@strawberry.type
class MerchantRegistrationPayload:
    auth: AuthPayload
    merchant: Merchant


@strawberry.type(
    description="Facts held by the market-regulation registry about a business (government static data)."
)
class RegistryRecord:
    row: strawberry.Private[RegistryRecordRow]

    @classmethod
    def of(cls, row: RegistryRecordRow) -> RegistryRecord:
        return cls(row=row)

    @strawberry.field
    def credit_code(self) -> str:
        return self.row.credit_code

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def legal_representative(self) -> str:
        return self.row.legal_representative

    @strawberry.field
    def registered_capital(self) -> Money:
        return Money(self.row.registered_capital_fen)

    @strawberry.field
    def established_on(self) -> dt.date:
        return self.row.established_on

    @strawberry.field(description="e.g. 存续 (in operation), 注销 (deregistered), 吊销 (revoked).")
    def registration_status(self) -> str:
        return self.row.registration_status

    @strawberry.field
    def administrative_penalties(self) -> int:
        return self.row.administrative_penalties

    @strawberry.field
    def on_abnormal_operations_list(self) -> bool:
        return self.row.on_abnormal_list


@strawberry.type
class OnboardingQuery:
    @strawberry.field(description="Regulators only.", extensions=[allow(Role.REGULATOR)])
    async def registry_record(self, info: Info, credit_code: str) -> RegistryRecord | None:
        row = await onboarding.registry_record(info.context.principal, credit_code)
        return RegistryRecord.of(row) if row else None


@strawberry.type
class OnboardingMutation:
    @strawberry.mutation(
        description="Creates a merchant account and its application, checked against the registry. "
        "The owner of a rejected application may apply again, with the same credit code or "
        "another: its account (same phone, same password) moves to the new application.",
        extensions=[anyone()],
    )
    async def register_merchant(
        self, info: Info, input: RegisterMerchantInput
    ) -> MerchantRegistrationPayload:
        registration = await onboarding.register_merchant(
            input.application(), info.context.client_address
        )
        return MerchantRegistrationPayload(
            auth=AuthPayload.of(registration.session), merchant=Merchant.of(registration.merchant)
        )

    @strawberry.mutation(
        description="Regulators: approve (the merchant goes public) or reject an application; "
        "a reason is required to reject, or to approve despite registry findings.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def review_merchant(
        self, info: Info, merchant_id: strawberry.ID, approve: bool, reason: str | None = None
    ) -> Merchant:
        row = await onboarding.review_merchant(
            info.context.principal, decode_id(merchant_id, "Merchant"), approve, reason
        )
        return Merchant.of(row)
