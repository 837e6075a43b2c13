"""The merchants: the laundry chain and 300 others in every status, each with its stores,
card products and registry record, and a few registry businesses that never applied.

Each merchant's status is where its story ends; the `_as_*` shapers give it what that
story needs (a weak record, registry problems, closed stores, a stop date), which the
card, event and complaint planners then follow.
"""

from __future__ import annotations

from datetime import timedelta

from cli.demo.accounts import CHEN, DEMO_CHAIN_CREDIT_CODE, DEMO_CHAIN_NAME
from cli.demo.catalogue import CATEGORIES, CATEGORY_SHARE
from cli.demo.people import landline, mobile_numbers, person_name
from cli.demo.plan import MerchantPlan, ProductPlan, StorePlan
from cli.demo.texts import CLOSURE_REASONS, REJECTION_REASONS, SUSPENSION_REASONS
from cli.demo.words import BRANDS, CHAIN_STORES, DISTRICT_WEIGHTS, DISTRICTS
from cli.demo.world import HISTORY_DAYS, SHANGHAI, World
from models import RegistryRecord
from models.enums import MerchantStatus
from services import onboarding
from services.credit_code import CHARSET, with_check_character

OTHER_MERCHANTS = 300


def _registry(world: World, merchant: MerchantPlan, years: float, capital_wan: int) -> None:
    merchant.registry = {
        "credit_code": merchant.credit_code,
        "name": merchant.name,
        "legal_representative": merchant.legal_representative,
        "registered_capital_fen": capital_wan * 10_000 * 100,
        "established_on": (merchant.created_at - timedelta(days=round(years * 365))).date(),
        "registration_status": onboarding.OPERATING_STATUS,
        "administrative_penalties": world.rng.choices((0, 1, 2), (80, 15, 5))[0],
        "on_abnormal_list": False,
        "updated_at": world.at(-HISTORY_DAYS - 10, 120),
    }


def plan_chain(world: World) -> None:
    stores = [
        StorePlan(f"洁净洗衣{road}店", f"{district}{road}{number}号", district, landline(world.rng))
        for district, road, number in CHAIN_STORES
    ]
    chain = MerchantPlan(
        name=DEMO_CHAIN_NAME,
        credit_code=DEMO_CHAIN_CREDIT_CODE,
        legal_representative=CHEN.name,
        category="LAUNDRY",
        owner_phone=CHEN.phone,
        status=MerchantStatus.ACTIVE,
        created_at=world.at(-430, 600),
        reviewed_at=world.at(-427, 900),
        stores=stores,
        products=[
            ProductPlan(
                "洗衣卡 充700得1000",
                "全市20家门店通用：干洗、水洗、熨烫、皮具护理",
                70_000,
                100_000,
                365,
            ),
            ProductPlan("洗衣卡 充300得400", "全市门店通用：干洗、水洗、熨烫", 30_000, 40_000, 365),
            ProductPlan(
                "夏季特惠卡 充200得300",
                "夏装水洗、床品清洗（已停售，已售卡片照常使用）",
                20_000,
                30_000,
                180,
                retired_at=world.at(-75, 540),
            ),
        ],
        registry=None,
        popularity=38.0,
    )
    _registry(world, chain, years=12.3, capital_wan=1000)
    assert chain.registry is not None
    chain.registry["administrative_penalties"] = 0
    world.merchants.append(chain)


def _unique_name(world: World, category: str, district: str, taken: set[str]) -> str:
    suffixes = CATEGORIES[category][0]
    while True:
        name = world.rng.choice(BRANDS) + world.rng.choice(suffixes)
        if name in taken:
            name = district[:2] + name
        if name not in taken:
            taken.add(name)
            return name


def _unique_code(world: World, district: str, taken: set[str]) -> str:
    region = DISTRICTS[district][0]
    while True:
        body = f"91{region}MA" + "".join(world.rng.choices(CHARSET, k=7))
        code = with_check_character(body)
        if code not in taken:
            taken.add(code)
            return code


def _plan_stores(world: World, name: str, district: str) -> list[StorePlan]:
    rng = world.rng
    count = rng.choices((1, 2, 3, 4, 5), (35, 30, 18, 10, 7))[0]
    stores: list[StorePlan] = []
    names: set[str] = set()
    while len(stores) < count:
        where = district if not stores or rng.random() < 0.7 else rng.choice(list(DISTRICTS))
        road = rng.choice(DISTRICTS[where][1])
        store_name = f"{name}（{road}店）"
        if store_name in names:
            continue
        names.add(store_name)
        address = f"{where}{road}{rng.randrange(1, 400)}号"
        stores.append(StorePlan(store_name, address, where, landline(rng)))
    return stores


def _plan_products(world: World, category: str, stores: list[StorePlan]) -> list[ProductPlan]:
    templates = CATEGORIES[category][1]
    count = min(len(templates), world.rng.choices((1, 2, 3), (40, 40, 20))[0])
    products = []
    for template in world.rng.sample(templates, count):
        only_at = None
        if len(stores) >= 3 and world.rng.random() < 0.3:
            only_at = stores[: world.rng.choice((1, 2))]
        products.append(
            ProductPlan(
                template.name,
                template.description,
                template.price_yuan * 100,
                template.face_yuan * 100,
                template.validity_days,
                only_at=only_at,
            )
        )
    return products


def plan_merchants(world: World) -> None:
    rng = world.rng
    statuses = (
        [MerchantStatus.ACTIVE] * 254
        + [MerchantStatus.PENDING_REVIEW] * 24
        + [MerchantStatus.REJECTED] * 8
        + [MerchantStatus.SUSPENDED] * 8
        + [MerchantStatus.CLOSED] * 6
    )
    categories = [code for code, count in CATEGORY_SHARE.items() for _ in range(count)]
    assert len(statuses) == len(categories) == OTHER_MERCHANTS
    rng.shuffle(statuses)
    rng.shuffle(categories)
    names, codes = {DEMO_CHAIN_NAME}, {DEMO_CHAIN_CREDIT_CODE}
    districts = list(DISTRICTS)
    owners = mobile_numbers(rng, "139", OTHER_MERCHANTS)
    counters = {status: 0 for status in MerchantStatus}
    for status, category, owner in zip(statuses, categories, owners, strict=True):
        district = rng.choices(districts, DISTRICT_WEIGHTS)[0]
        name = _unique_name(world, category, district, names)
        stores = _plan_stores(world, name, district)
        merchant = MerchantPlan(
            name=name,
            credit_code=_unique_code(world, district, codes),
            legal_representative=person_name(rng),
            category=category,
            owner_phone=owner,
            status=status,
            created_at=world.business(rng.randrange(-480, -125)),
            stores=stores,
            products=_plan_products(world, category, stores),
            registry=None,
            custody_ratio_bp=rng.choices((10_000, 8_000, 6_000), (80, 12, 8))[0],
            popularity=rng.lognormvariate(0, 0.8),
        )
        merchant.reviewed_at = merchant.created_at + timedelta(days=rng.randrange(2, 10))
        _registry(world, merchant, rng.uniform(1.0, 15.0), rng.choice((10, 30, 50, 100, 200, 500)))
        shape = {
            MerchantStatus.ACTIVE: _as_active,
            MerchantStatus.PENDING_REVIEW: _as_pending,
            MerchantStatus.REJECTED: _as_rejected,
            MerchantStatus.SUSPENDED: _as_suspended,
            MerchantStatus.CLOSED: _as_closed,
        }[status]
        shape(world, merchant, counters[status])
        counters[status] += 1
        world.merchants.append(merchant)
    _plan_extra_registry(world, codes)


def _as_active(world: World, merchant: MerchantPlan, index: int) -> None:
    rng = world.rng
    if index < 6:  # these end with credit grade D: young, penalised, complained about
        merchant.weak = True
        merchant.custody_ratio_bp = 10_000
        merchant.popularity = 2.5
        _registry(world, merchant, rng.uniform(1.0, 1.8), 10)
        assert merchant.registry is not None
        merchant.registry["administrative_penalties"] = 2
    elif index < 10 and len(merchant.stores) >= 3:
        merchant.stores[-1].closed_at = world.business(rng.randrange(-25, -5))


def _as_pending(world: World, merchant: MerchantPlan, index: int) -> None:
    rng = world.rng
    merchant.created_at = world.business(rng.randrange(-14, 0))
    merchant.reviewed_at = None
    registry = merchant.registry
    assert registry is not None
    registry["established_on"] = (merchant.created_at - timedelta(days=900)).date()
    problem = index % 12 if index >= 12 else None  # the first twelve match the registry
    if problem == 0:
        merchant.registry = registry = None
    elif problem in (1, 7):
        registry["legal_representative"] = person_name(rng)
    elif problem in (2, 8):
        registry["name"] = f"淮安市{merchant.name}有限公司"
    elif problem in (3, 9):
        registry["established_on"] = (merchant.created_at - timedelta(days=70)).date()
    elif problem in (4, 10):
        registry["on_abnormal_list"] = True
    elif problem in (5, 11):
        registry["registration_status"] = "吊销"
    elif problem == 6:
        registry["registration_status"] = "注销"
    record = RegistryRecord(**registry) if registry else None
    today = merchant.created_at.astimezone(SHANGHAI).date()
    merchant.findings = onboarding.registry_findings(
        record, merchant.name, merchant.legal_representative, today
    )


def _as_rejected(world: World, merchant: MerchantPlan, index: int) -> None:
    merchant.created_at = world.business(world.rng.randrange(-100, -20))
    merchant.reviewed_at = merchant.created_at + timedelta(days=world.rng.randrange(3, 9))
    merchant.status_reason = REJECTION_REASONS[index % len(REJECTION_REASONS)]
    assert merchant.registry is not None
    if index % len(REJECTION_REASONS) == 0:
        merchant.registry["registration_status"] = "吊销"
    elif index % len(REJECTION_REASONS) == 1:
        merchant.registry["legal_representative"] = person_name(world.rng)
    record = RegistryRecord(**merchant.registry)
    today = merchant.created_at.astimezone(SHANGHAI).date()
    merchant.findings = onboarding.registry_findings(
        record, merchant.name, merchant.legal_representative, today
    )


def _ensure_two_stores(world: World, merchant: MerchantPlan) -> None:
    while len(merchant.stores) < 2:
        district = merchant.stores[0].district
        road = world.rng.choice(DISTRICTS[district][1])
        name = f"{merchant.name}（{road}二店）"
        address = f"{district}{road}{world.rng.randrange(1, 400)}号"
        merchant.stores.append(StorePlan(name, address, district, landline(world.rng)))


def _as_suspended(world: World, merchant: MerchantPlan, index: int) -> None:
    _ensure_two_stores(world, merchant)
    merchant.stop_at = world.at(world.rng.randrange(-45, -12), 600)
    merchant.status_reason = SUSPENSION_REASONS[index % len(SUSPENSION_REASONS)]
    merchant.popularity = 2.0
    for store in merchant.stores[1:]:
        store.closed_at = merchant.stop_at - timedelta(days=world.rng.randrange(2, 8), hours=3)


def _as_closed(world: World, merchant: MerchantPlan, index: int) -> None:
    """The owner stops trading, every store shuts, and a few days later the regulator closes it."""
    merchant.stop_at = world.at(world.rng.randrange(-75, -25), 900)
    merchant.status_reason = CLOSURE_REASONS[index % len(CLOSURE_REASONS)]
    merchant.popularity = 1.5
    merchant.custody_ratio_bp = (6_000, 8_000)[index] if index < 2 else merchant.custody_ratio_bp
    shut = merchant.stop_at - timedelta(days=world.rng.randrange(2, 6), hours=5)
    for store in merchant.stores:
        store.closed_at = shut


def _plan_extra_registry(world: World, codes: set[str]) -> None:
    """Businesses the registry knows that never joined: deregistered, revoked, abnormal."""
    for index, (status, abnormal) in enumerate(
        (("注销", False), ("吊销", False), ("存续", True), ("吊销", True), ("注销", False))
    ):
        district = list(DISTRICTS)[index % len(DISTRICTS)]
        category = list(CATEGORIES)[index]
        world.extra_registry.append(
            {
                "credit_code": _unique_code(world, district, codes),
                "name": _unique_name(world, category, district, set()),
                "legal_representative": person_name(world.rng),
                "registered_capital_fen": world.rng.choice((10, 30, 50)) * 1_000_000,
                "established_on": (
                    world.end - timedelta(days=world.rng.randrange(800, 4000))
                ).date(),
                "registration_status": status,
                "administrative_penalties": world.rng.randrange(0, 4),
                "on_abnormal_list": abnormal,
                "updated_at": world.at(-HISTORY_DAYS - 10, 120),
            }
        )
