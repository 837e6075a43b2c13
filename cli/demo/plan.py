"""The plan's data model: one dataclass for each kind of thing the demo contains.

The generators fill these in from the seeded generator; the steps and the writers then
read them, and record the database ids they get (`id` stays 0 until then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models.enums import ComplaintStatus, CreditGrade, MerchantStatus


@dataclass(eq=False)
class StorePlan:
    name: str
    address: str
    district: str
    phone: str
    closed_at: datetime | None = None
    id: int = 0

    def open_at(self, at: datetime) -> bool:
        return self.closed_at is None or at < self.closed_at


@dataclass(eq=False)
class ProductPlan:
    name: str
    description: str
    price_fen: int
    face_fen: int
    validity_days: int
    only_at: list[StorePlan] | None = None  # None: valid at every store
    retired_at: datetime | None = None
    id: int = 0


@dataclass(eq=False)
class MerchantPlan:
    name: str
    credit_code: str
    legal_representative: str
    category: str
    owner_phone: str
    status: MerchantStatus  # where its story ends
    created_at: datetime
    stores: list[StorePlan]
    products: list[ProductPlan]
    registry: dict[str, Any] | None
    reviewed_at: datetime | None = None
    custody_ratio_bp: int = 10_000
    findings: list[str] = field(default_factory=list)
    status_reason: str | None = None
    stop_at: datetime | None = None  # when it was suspended or closed
    weak: bool = False  # planned to end with credit grade D
    popularity: float = 1.0
    cards: list[CardPlan] = field(default_factory=list)
    complaints: list[ComplaintPlan] = field(default_factory=list)
    grade: CreditGrade | None = None
    id: int = 0


@dataclass(eq=False)
class RefundPlan:
    requested_at: datetime
    # AUTO (approved at once), APPROVE / REJECT (merchant), REGULATOR, PENDING, DISPUTE (complaint)
    decision: str
    decided_at: datetime | None = None


@dataclass(eq=False)
class CardPlan:
    key: str
    owner: str  # phone
    merchant: MerchantPlan
    product: ProductPlan
    bought_at: datetime
    home: StorePlan
    balance: int
    cash: int
    paid: int
    sales: list[tuple[datetime, int]] = field(default_factory=list)  # face value added
    payments: list[tuple[datetime, int]] = field(default_factory=list)  # cash paid
    redemptions: list[tuple[datetime, int]] = field(default_factory=list)
    refund: RefundPlan | None = None
    refunded_at: datetime | None = None
    id: int = 0
    purchase_transfer_id: int = 0

    @property
    def expires_at(self) -> datetime:
        return self.bought_at + timedelta(days=self.product.validity_days)

    @property
    def last_at(self) -> datetime:
        return self.redemptions[-1][0] if self.redemptions else self.bought_at


@dataclass(eq=False)
class ComplaintPlan:
    card: CardPlan
    created_at: datetime
    status: ComplaintStatus
    closed_at: datetime | None = None
    id: int = 0
