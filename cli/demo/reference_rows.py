"""The rows written in bulk before the history replays: merchants (as applications, which
the review steps decide), their stores, card products and registry records, and the users.
Each plan learns its database id here, for the steps to use.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cli.demo.accounts import CHEN, LI, WANG, ZHANG, ZHOU
from cli.demo.world import HISTORY_DAYS, World, hours
from models import CardProduct, CardProductStore, Merchant, RegistryRecord, Store, User
from models.enums import CardProductStatus, MerchantStatus, Role
from services.stores import StoreDraft, open_stores


async def write_merchants(world: World) -> None:
    """Merchants (as applications: the review steps approve or reject them), stores, products."""
    await Merchant.bulk_create(
        [
            Merchant(
                name=m.name,
                credit_code=m.credit_code,
                legal_representative=m.legal_representative,
                category_id=m.category,
                contact_phone=m.owner_phone,
                status=MerchantStatus.PENDING_REVIEW,
                registry_verified=not m.findings,
                registry_findings=m.findings,
                custody_ratio_bp=m.custody_ratio_bp,
                created_at=m.created_at,
            )
            for m in world.merchants
        ],
        batch_size=500,
    )
    ids = dict(
        await Merchant.filter(credit_code__in=[m.credit_code for m in world.merchants]).values_list(
            "credit_code", "id"
        )
    )
    for merchant in world.merchants:
        merchant.id = ids[merchant.credit_code]
    for m in world.merchants:
        await open_stores(
            m.id,
            [StoreDraft(s.name, s.address, s.district, s.phone) for s in m.stores],
            opened_at=m.created_at,
        )
    merchant_ids = [m.id for m in world.merchants]
    store_ids = {
        (merchant_id, name): store_id
        for store_id, merchant_id, name in await Store.filter(
            merchant_id__in=merchant_ids
        ).values_list("id", "merchant_id", "name")
    }
    await CardProduct.bulk_create(
        [
            CardProduct(
                merchant_id=m.id,
                name=p.name,
                description=p.description,
                price_fen=p.price_fen,
                face_value_fen=p.face_fen,
                validity_days=p.validity_days,
                all_stores=p.only_at is None,
                status=CardProductStatus.ACTIVE,
                created_at=m.created_at,
            )
            for m in world.merchants
            for p in m.products
        ],
        batch_size=500,
    )
    product_ids = {
        (merchant_id, name): product_id
        for product_id, merchant_id, name in await CardProduct.filter(
            merchant_id__in=merchant_ids
        ).values_list("id", "merchant_id", "name")
    }
    links = []
    for merchant in world.merchants:
        for store in merchant.stores:
            store.id = store_ids[merchant.id, store.name]
        for product in merchant.products:
            product.id = product_ids[merchant.id, product.name]
            for store in product.only_at or ():
                links.append(CardProductStore(product_id=product.id, store_id=store.id))
    await CardProductStore.bulk_create(links, batch_size=500)
    records = [m.registry for m in world.merchants if m.registry] + world.extra_registry
    await RegistryRecord.bulk_create(
        [RegistryRecord(**record) for record in records], batch_size=500
    )


async def write_users(world: World, password_hash: str) -> None:
    """Every account shares one Argon2 hash of the demo password (hashing is slow on purpose)."""
    rng = world.rng
    first_card: dict[str, datetime] = {}
    for card in world.cards:
        first_card[card.owner] = min(first_card.get(card.owner, card.bought_at), card.bought_at)

    def joined(phone: str) -> datetime:
        if phone in first_card:
            return first_card[phone] - hours(rng, 1, 72)
        return world.business(rng.randrange(-HISTORY_DAYS, 0))

    chain = world.chain
    rows = [
        User(
            role=Role.REGULATOR,
            phone=WANG.phone,
            display_name=WANG.name,
            created_at=world.at(-440, 600),
        ),
        User(
            role=Role.CONSUMER,
            phone=ZHANG.phone,
            display_name=ZHANG.name,
            created_at=joined(ZHANG.phone),
        ),
        User(role=Role.CONSUMER, phone=LI.phone, display_name=LI.name, created_at=joined(LI.phone)),
        User(
            role=Role.MERCHANT,
            phone=ZHOU.phone,
            display_name=ZHOU.name,
            merchant_id=chain.id,
            store_id=chain.stores[0].id,
            created_at=chain.created_at + timedelta(days=12),
        ),
    ]
    rows += [
        User(
            role=Role.MERCHANT,
            phone=m.owner_phone,
            display_name=CHEN.name if m is chain else m.legal_representative,
            merchant_id=m.id,
            is_merchant_owner=True,
            created_at=m.created_at,
        )
        for m in world.merchants
    ]
    rows += [
        User(role=Role.CONSUMER, phone=phone, display_name=name, created_at=joined(phone))
        for phone, name in world.consumers.items()
    ]
    for row in rows:
        row.password_hash = password_hash
    await User.bulk_create(rows, batch_size=500)
    phones = [row.phone for row in rows]
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        world.user_ids.update(await User.filter(phone__in=chunk).values_list("phone", "id"))
