"""Categories, merchants, their stores and card products."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import CardProductStatus, CreditGrade, MerchantStatus, StoreStatus


class Category(Model):
    """Reference data created by the migrations, e.g. LAUNDRY / 洗衣."""

    code = fields.CharField(max_length=32, primary_key=True)
    name = fields.CharField(max_length=32)
    position = fields.IntField(default=0)

    class Meta:
        table = "categories"


class Merchant(Model):
    """A business selling prepaid cards, from application to closure."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=128)
    # Unique among merchants that are not REJECTED (see Meta): a rejected application keeps
    # its row and its audit trail, and the business may apply again with the same code.
    credit_code = fields.CharField(max_length=18)
    legal_representative = fields.CharField(max_length=64)
    category: fields.ForeignKeyRelation[Category] = fields.ForeignKeyField(
        "anfu.Category", related_name="merchants", on_delete=fields.RESTRICT
    )
    contact_phone = fields.CharField(max_length=11)
    status = fields.CharEnumField(MerchantStatus, max_length=16, db_index=True)
    status_reason = fields.TextField(null=True)
    registry_verified = fields.BooleanField(default=False)
    registry_findings: fields.JSONField[list[str]] = fields.JSONField(default=list)
    # Share of each payment kept in custody, in basis points (10000 = 100 %).
    custody_ratio_bp = fields.IntField(default=10000)
    # Latest credit score, kept here for filtering; the history lives in credit_scores.
    credit_score = fields.IntField(null=True)
    credit_grade = fields.CharEnumField(CreditGrade, max_length=1, null=True)
    created_at = fields.DatetimeField(default=now)
    reviewed_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)

    category_id: str

    class Meta:
        table = "merchants"
        constraints = (
            UniqueConstraint(
                fields=("credit_code",),
                name="merchant_credit_code_unless_rejected",
                condition="status <> 'REJECTED'",
            ),
            CheckConstraint(
                check="custody_ratio_bp >= 4000 AND custody_ratio_bp <= 10000",
                name="merchant_custody_ratio_range",
            ),
            CheckConstraint(
                check="credit_score IS NULL OR (credit_score >= 0 AND credit_score <= 1000)",
                name="merchant_credit_score_range",
            ),
        )


class Store(Model):
    """A physical outlet of a merchant where cards are redeemed."""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "anfu.Merchant", related_name="stores", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=128)
    address = fields.CharField(max_length=255)
    district = fields.CharField(max_length=32, db_index=True)
    phone = fields.CharField(max_length=20, null=True)
    status = fields.CharEnumField(StoreStatus, max_length=8, default=StoreStatus.OPEN)
    created_at = fields.DatetimeField(default=now)
    closed_at = fields.DatetimeField(null=True)

    merchant_id: int

    class Meta:
        table = "stores"


class CardProduct(Model):
    """A kind of prepaid card a merchant sells, e.g. pay 700.00, get 1000.00."""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "anfu.Merchant", related_name="card_products", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=128)
    description = fields.TextField()
    price_fen = fields.BigIntField()
    face_value_fen = fields.BigIntField()
    validity_days = fields.IntField()
    all_stores = fields.BooleanField(default=True)
    status = fields.CharEnumField(
        CardProductStatus, max_length=16, default=CardProductStatus.ACTIVE
    )
    created_at = fields.DatetimeField(default=now)

    merchant_id: int

    class Meta:
        table = "card_products"
        constraints = (
            CheckConstraint(check="price_fen > 0", name="card_product_price_positive"),
            CheckConstraint(check="price_fen <= face_value_fen", name="card_product_price_le_face"),
            CheckConstraint(check="validity_days > 0", name="card_product_validity_positive"),
        )


class CardProductStore(Model):
    """A store where a product that is not valid at every store can be used."""

    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[CardProduct] = fields.ForeignKeyField(
        "anfu.CardProduct", related_name="store_links", on_delete=fields.CASCADE
    )
    store: fields.ForeignKeyRelation[Store] = fields.ForeignKeyField(
        "anfu.Store", related_name="product_links", on_delete=fields.RESTRICT
    )

    product_id: int
    store_id: int

    class Meta:
        table = "card_product_stores"
        unique_together = (("product", "store"),)
