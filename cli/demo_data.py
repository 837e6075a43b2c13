"""What the demo contains, for cli/demo.py (which tells what happened to it): the demo
accounts, the plan's data model, Huai'an's districts, roads and names, shop and card
templates, the texts, and the generators of people, merchants, stores, products and
registry records. Pure: no database, only the seeded random generator of the World.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from auth.principal import Principal
from models import RegistryRecord
from models.enums import ComplaintStatus, CreditGrade, MerchantStatus, Role
from services import onboarding
from services.credit_code import CHARSET, with_check_character

DEMO_CHAIN_CREDIT_CODE = with_check_character("91320800MA1XK7LD0")
DEMO_CHAIN_NAME = "淮安洁净洗衣连锁"
SHANGHAI = ZoneInfo("Asia/Shanghai")
HISTORY_DAYS = 120
OTHER_MERCHANTS = 300
CONSUMERS = 1000


@dataclass(frozen=True)
class DemoAccount:
    phone: str
    name: str
    role: Role


ZHANG = DemoAccount("13800000001", "张小安", Role.CONSUMER)
LI = DemoAccount("13800000002", "李淮", Role.CONSUMER)
CHEN = DemoAccount("13900000001", "陈洁", Role.MERCHANT)
ZHOU = DemoAccount("13900000002", "周店员", Role.MERCHANT)
WANG = DemoAccount("13700000001", "淮安市市场监管局 王监管", Role.REGULATOR)
DEMO_ACCOUNTS = (ZHANG, LI, CHEN, ZHOU, WANG)


# ---------------------------------------------------------------- the plan


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


@dataclass(order=True)
class Step:
    at: datetime
    seq: int
    run: Callable[[], Awaitable[Any]] = field(compare=False)


@dataclass
class World:
    rng: random.Random
    anchor: datetime  # midnight today in Shanghai: the history ends there
    merchants: list[MerchantPlan] = field(default_factory=list)
    consumers: dict[str, str] = field(default_factory=dict)  # phone -> display name
    cards: list[CardPlan] = field(default_factory=list)
    complaints: list[ComplaintPlan] = field(default_factory=list)
    extra_registry: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    user_ids: dict[str, int] = field(default_factory=dict)

    @property
    def chain(self) -> MerchantPlan:
        return self.merchants[0]

    @property
    def end(self) -> datetime:
        return self.anchor.astimezone(UTC)

    def at(self, day: int, minute: int) -> datetime:
        """`minute` minutes after local midnight of `day` (0 is today, -1 yesterday), in UTC."""
        return (self.anchor + timedelta(days=day, minutes=minute)).astimezone(UTC)

    def business(self, day: int, first_hour: int = 9, last_hour: int = 21) -> datetime:
        return self.at(day, self.rng.randrange(first_hour * 60, last_hour * 60))

    def day_of(self, at: datetime) -> int:
        return (at.astimezone(SHANGHAI) - self.anchor).days

    def step(self, at: datetime, run: Callable[[], Awaitable[Any]]) -> None:
        assert at < self.end, "the demo history ends at midnight today"
        self.steps.append(Step(at, len(self.steps), run))

    def user(self, phone: str) -> int:
        return self.user_ids[phone]

    def owner(self, merchant: MerchantPlan) -> Principal:
        return Principal(
            user_id=self.user(merchant.owner_phone), role=Role.MERCHANT, merchant_id=merchant.id
        )

    def consumer(self, phone: str) -> Principal:
        return Principal(user_id=self.user(phone), role=Role.CONSUMER)

    def regulator(self) -> Principal:
        return Principal(user_id=self.user(WANG.phone), role=Role.REGULATOR)


# ---------------------------------------------------------------- words


# District -> (administrative region code used in credit codes, roads for addresses).
DISTRICTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "清江浦区": (
        "320812",
        (
            "健康东路",
            "淮海南路",
            "淮海北路",
            "北京南路",
            "解放东路",
            "承德南路",
            "交通路",
            "环城西路",
            "水渡口大道",
            "深圳路",
            "枚皋路",
            "西安路",
            "延安东路",
            "人民南路",
            "大治路",
        ),
    ),
    "淮阴区": (
        "320804",
        ("北京东路", "淮河东路", "承德北路", "长江东路", "黄河路", "富春江路", "樱花路", "旺旺路"),
    ),
    "淮安区": (
        "320803",
        ("翔宇大道", "楚州大道", "华西路", "城东路", "东长街", "西长街", "镇淮楼东路", "淮城北路"),
    ),
    "洪泽区": ("320813", ("东风路", "大庆路", "洪泽湖大道", "人民北路", "振兴路", "建设路")),
    "涟水县": ("320826", ("安东路", "红日大道", "涟城大道", "五岛湖路", "淮浦路", "幸福路")),
    "盱眙县": ("320830", ("五墩路", "山水大道", "淮河路", "东方大道", "都梁大道", "象山路")),
    "金湖县": ("320831", ("建设路", "金湖西路", "神华大道", "人民路", "环城西路", "衡阳路")),
}
# How shops spread over the districts (weights, in the order above).
DISTRICT_WEIGHTS = (35, 18, 15, 8, 9, 8, 7)
# The laundry chain's 20 stores: (district, road, number).
CHAIN_STORES = (
    ("清江浦区", "健康东路", 18),
    ("清江浦区", "淮海南路", 106),
    ("清江浦区", "北京南路", 33),
    ("清江浦区", "解放东路", 72),
    ("清江浦区", "水渡口大道", 9),
    ("清江浦区", "承德南路", 251),
    ("淮阴区", "北京东路", 88),
    ("淮阴区", "淮河东路", 15),
    ("淮阴区", "长江东路", 140),
    ("淮阴区", "黄河路", 27),
    ("淮安区", "翔宇大道", 66),
    ("淮安区", "华西路", 12),
    ("淮安区", "东长街", 39),
    ("洪泽区", "东风路", 55),
    ("洪泽区", "洪泽湖大道", 201),
    ("涟水县", "安东路", 8),
    ("涟水县", "红日大道", 47),
    ("盱眙县", "五墩路", 21),
    ("盱眙县", "山水大道", 310),
    ("金湖县", "建设路", 93),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严武戴莫孔向汤"
)
GIVEN_NAME_CHARACTERS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红梅琳晨阳浩然子涵雨轩欣怡梓"
    "睿博文俊宇佳琪思远嘉豪雪晴诗雅志宏海燕春晓东丹凤立新天翔一鸣慧颖婷婕淮安清河运"
)

BRANDS = (
    "金鼎",
    "福满",
    "悦来",
    "和顺",
    "万家",
    "鑫源",
    "盛世",
    "佳美",
    "丽人",
    "星光",
    "阳光",
    "康乐",
    "优品",
    "恒通",
    "顺达",
    "运河",
    "清江",
    "楚州",
    "漕运",
    "淮扬",
    "洪泽湖",
    "白马湖",
    "钵池",
    "清晏",
    "河下",
    "翔宇",
    "润泽",
    "嘉禾",
    "聚福",
    "同乐",
    "新月",
    "青禾",
    "百合",
    "安居",
    "乐活",
    "君悦",
    "一品",
    "老街",
    "东门",
    "西湖",
    "金湖",
    "都梁",
    "五岛",
    "樱花",
    "淮上",
    "九龙",
    "锦绣",
    "华韵",
    "汇丰",
    "永和",
)


@dataclass(frozen=True)
class ProductTemplate:
    """A kind of card a shop of one category sells: pay `price`, get `face` (yuan)."""

    name: str
    description: str
    price_yuan: int
    face_yuan: int
    validity_days: int = 365


# Category -> (shop name suffixes, product templates, typical redemption amounts in yuan).
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[ProductTemplate, ...], tuple[int, ...]]] = {
    "HOTEL_DINING": (
        ("酒楼", "大饭店", "淮扬菜馆", "面馆", "火锅", "茶餐厅", "私房菜", "烧烤"),
        (
            ProductTemplate("储值卡 充1000得1200", "堂食、外带通用，酒水除外", 1000, 1200),
            ProductTemplate("储值卡 充500得550", "堂食通用", 500, 550),
            ProductTemplate("家宴套餐卡", "可抵扣包厢消费与家宴套餐", 2000, 2500),
            ProductTemplate("早茶卡 充300得360", "早茶、面点专用", 300, 360, 180),
        ),
        (68, 96, 128, 158, 188, 236, 318, 388),
    ),
    "RETAIL": (
        ("超市", "便利店", "生鲜超市", "百货", "母婴店", "果品店"),
        (
            ProductTemplate("购物卡 面值500", "店内商品通用，烟酒除外", 500, 500),
            ProductTemplate("购物卡 充1000得1050", "店内商品通用", 1000, 1050),
            ProductTemplate("生鲜月卡", "蔬果、肉禽、水产通用", 300, 330, 90),
        ),
        (23, 46, 58, 79, 105, 132, 168),
    ),
    "BEAUTY": (
        ("美发沙龙", "美容院", "造型", "美甲馆", "养生馆", "皮肤管理中心"),
        (
            ProductTemplate("会员卡 充2000得3000", "剪发、烫染、护理通用", 2000, 3000),
            ProductTemplate("会员卡 充1000得1300", "剪发、烫染通用", 1000, 1300),
            ProductTemplate("面部护理卡", "面部清洁、补水护理，约18次", 1980, 3600),
            ProductTemplate("美甲次卡", "美甲、手部护理", 500, 700, 180),
        ),
        (38, 68, 98, 128, 188, 268, 368),
    ),
    "LAUNDRY": (
        ("洗衣店", "干洗店", "洗衣坊", "皮具护理"),
        (
            ProductTemplate("洗衣卡 充500得700", "干洗、水洗、熨烫通用", 500, 700),
            ProductTemplate("洗衣卡 充300得400", "干洗、水洗通用", 300, 400),
            ProductTemplate("皮具护理卡", "皮衣、皮包、皮鞋护理", 800, 1200),
        ),
        (18, 25, 36, 45, 58, 76, 98),
    ),
    "EDUCATION": (
        ("培训学校", "艺术培训", "琴行", "书法馆", "英语中心", "美术工作室", "舞蹈中心"),
        (
            ProductTemplate("课时卡 48课时", "每课时100元，可跨科目使用", 3680, 4800),
            ProductTemplate("课时卡 24课时", "每课时100元", 2000, 2400),
            ProductTemplate("体验课 10课时", "新生体验课程", 800, 1000, 180),
        ),
        (100, 200, 300, 400),
    ),
    "FITNESS": (
        ("健身房", "游泳馆", "瑜伽馆", "羽毛球馆", "拳击馆", "健身工作室"),
        (
            ProductTemplate("储值卡 充2000得2600", "团课、场地、私教通用", 2000, 2600),
            ProductTemplate("私教课卡", "一对一私教课程，每节300元", 3600, 6000),
            ProductTemplate("次卡 充500得600", "场地、团课通用", 500, 600, 180),
        ),
        (30, 50, 80, 120, 300),
    ),
    "LEISURE": (
        ("足浴", "KTV", "影城", "桌游馆", "温泉会馆", "剧本杀", "茶楼"),
        (
            ProductTemplate("会员卡 充1000得1500", "全场项目通用", 1000, 1500),
            ProductTemplate("会员卡 充500得600", "全场项目通用", 500, 600),
            ProductTemplate("畅享卡 充300得360", "周一至周五使用", 300, 360, 90),
            ProductTemplate("至尊卡 充1000得2000", "全场项目通用，节假日除外", 1000, 2000),
        ),
        (49, 88, 128, 168, 198, 258),
    ),
    "HOUSEKEEPING": (
        ("家政", "保洁服务", "家电清洗", "保姆服务中心"),
        (
            ProductTemplate("保洁服务卡 充1500得1800", "日常保洁、深度保洁", 1500, 1800),
            ProductTemplate("家电清洗卡", "空调、油烟机、洗衣机清洗", 600, 800),
        ),
        (80, 120, 160, 240, 360),
    ),
    "AUTO_SERVICE": (
        ("洗车", "汽车美容", "汽修厂", "轮胎店", "车管家"),
        (
            ProductTemplate("洗车卡 充300得500", "普洗、精洗通用", 300, 500),
            ProductTemplate("保养储值卡 充2000得2400", "保养、维修工时费", 2000, 2400),
            ProductTemplate("美容护理卡", "打蜡、内饰清洁、镀晶", 1200, 1600),
        ),
        (25, 35, 60, 120, 280, 460),
    ),
}
# How many of the ~300 other merchants each category gets.
CATEGORY_SHARE = {
    "HOTEL_DINING": 50,
    "RETAIL": 30,
    "BEAUTY": 50,
    "LAUNDRY": 20,
    "EDUCATION": 40,
    "FITNESS": 35,
    "LEISURE": 30,
    "HOUSEKEEPING": 20,
    "AUTO_SERVICE": 25,
}

REJECTION_REASONS = (
    "营业执照登记状态为吊销，不符合入驻条件",
    "法定代表人与登记机关记录不一致，且未能补充证明材料",
    "经营场所与申报地址不符，现场核查未通过",
    "近一年内存在多起预付卡未兑付投诉，暂不予入驻",
)
SUSPENSION_REASONS = (
    "多家门店停业，消费者集中投诉，暂停售卡待核查",
    "未按期整改投诉问题，暂停销售预付卡",
    "经营场所搬迁未报备，暂停售卡，兑付与退款照常",
)
CLOSURE_REASONS = (
    "经营者停业，预付余额已由监管账户全额退还",
    "经营者申请注销，已完成预付卡清退",
)

REFUND_REASONS_COOLING_OFF = (
    "买错了门店，七日内申请退卡",
    "家人已经办过卡，重复购买",
    "搬家离开淮安，不再需要",
    "冲动消费，冷静期内退卡",
)
REFUND_REASONS_LATER = (
    "服务质量下降，不想继续使用",
    "门店搬迁太远，使用不便",
    "工作调动离开淮安，申请退还余额",
    "孩子课程时间冲突，无法继续上课",
    "身体原因无法继续健身，申请退卡",
)
REFUND_REASON_EXPIRED = "卡已过期但余额未用完，申请退还剩余预付款"
REFUND_APPROVAL_NOTES = ("同意退款，欢迎再次光临", "已核实，同意退还剩余预付款", "同意")
REFUND_REJECTION_NOTES = (
    "该卡享受了赠送项目，按约定不予退款，可转让他人使用",
    "服务已正常提供，建议继续使用",
)

# Complaint category -> (descriptions, merchant responses).
COMPLAINT_TEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "SERVICE_REFUSED": (
        (
            "到店消费时店员以系统故障为由拒绝使用预付卡",
            "周末到店被告知会员卡只能工作日使用，办卡时没有说明",
        ),
        ("已与店员核实，系沟通失误，欢迎随时到店使用", "已调整规则，周末可正常使用"),
    ),
    "STORE_CLOSED": (
        ("常去的门店突然关门，电话无人接听，卡里还有余额", "门店停业装修一个多月，没有任何通知"),
        ("门店装修，卡可在其他门店使用", "门店已搬迁至新址，已短信通知持卡人"),
    ),
    "REFUND_DISPUTE": (
        ("申请退卡被拒，商家说赠送部分要扣除", "退款申请提交一周了商家一直不处理"),
        ("按办卡协议赠送金额不退，本金可以协商", "已联系消费者协商退款方案"),
    ),
    "QUALITY": (
        ("衣服干洗后出现褪色，要求赔偿", "服务质量明显下降，和办卡时承诺的不一样"),
        ("已安排免费返工并赔偿", "已加强员工培训，向消费者致歉"),
    ),
    "MISLEADING_PROMOTION": (
        ("办卡时承诺的赠送项目到店后不认", "宣传充一千送五百，实际很多项目不能用卡"),
        ("已补齐赠送项目", "宣传用语已整改，消费者可选择退卡"),
    ),
    "OTHER": (
        ("消费记录和实际到店次数对不上，多扣了一次", "店员私下推销高价套餐"),
        ("已核对消费记录并冲正", "已对相关店员批评教育"),
    ),
}
ESCALATION_MESSAGES = ("商家答复不能接受，申请监管部门调解", "商家一直未解决，申请调解")
WITHDRAWAL_MESSAGES = ("已与商家协商解决，撤回投诉", "问题已处理，撤回")
RESOLUTIONS = {
    "UPHELD": "经调解，商家同意退还卡内剩余预付款，款项已从监管账户原路退回",
    "PARTIALLY_UPHELD": "经调解，商家补偿服务一次，消费者接受",
    "DISMISSED": "经核查，商家已按约定提供服务，投诉不成立",
    "CLOSED_MERCHANT": "商户已关闭，卡内余额已由监管账户全额退还",
}
REJECTION_MESSAGE = "投诉事项不属于预付式消费纠纷，已告知消费者通过其他渠道处理"

# (kind, title, body, pinned, days before today)
ANNOUNCEMENTS = (
    (
        "POLICY",
        "《淮安市单用途商业预付卡资金监管办法》施行公告",
        "自即日起，在本市销售单用途商业预付卡的经营者应接入“淮·安付”平台。预付资金存入监管账户，"
        "消费者每次消费后按比例拨付商户；记名卡单卡预付金额不超过5000元，同一消费者在同一经营者处"
        "预付余额不超过20000元。",
        True,
        110,
    ),
    (
        "RISK_WARNING",
        "关于警惕“高折扣、大额充值”预付卡消费风险的提示",
        "部分经营者以“充一千送一千”等高折扣吸引大额充值。折扣超过四成的预付卡风险较高，请理性消费，"
        "优先选择信用等级A、B的商户，按需小额充值，保存好消费凭证。",
        True,
        60,
    ),
    (
        "NOTICE",
        "“淮·安付”预付式消费监管平台上线运行",
        "平台上线后，消费者可在小程序中查看预付卡余额、监管资金和消费记录，一键申请退款和投诉；"
        "商户可在线核销、管理门店和卡产品。",
        False,
        118,
    ),
    (
        "POLICY",
        "预付卡七日冷静期退款规则说明",
        "购卡后7日内且未消费的，消费者可申请无理由退款，平台即时从监管账户退还全部预付款。"
        "超过冷静期或已消费的，由商户审核；商户停业、被暂停或卡片过期的，退款无需审核。",
        False,
        95,
    ),
    (
        "RISK_WARNING",
        "预付卡“过期作废”条款无效的提示",
        "根据《消费者权益保护法实施条例》，经营者不得以预付卡过期为由拒绝退还余额。"
        "卡片过期后，消费者可随时申请退还剩余预付款。",
        False,
        40,
    ),
    (
        "NOTICE",
        "部分商户暂停销售预付卡的公示",
        "经核查，部分商户存在门店停业、投诉集中等情况，已暂停其销售预付卡。暂停期间，"
        "已售卡片可正常消费，申请退款将从监管账户直接办理。",
        False,
        20,
    ),
    (
        "NOTICE",
        "本季度预付式消费投诉处理情况通报",
        "本季度平台共受理预付式消费投诉，商户72小时内响应率超过九成，"
        "调解成功的投诉均已落实退款或补偿。",
        False,
        5,
    ),
)

FINANCING_PURPOSES = (
    "新增门店装修及设备采购",
    "更新干洗设备，扩大中央洗涤工厂产能",
    "采购旺季备货",
    "门店租金及员工工资周转",
    "课程研发与教室改造",
)
FINANCING_NOTES = {
    "APPROVED": "信用良好，合作银行同意授信",
    "REJECTED": "近期销售波动较大，建议六个月后再申请",
}

# Credit factors: code -> (name, weight before normalisation).
FACTORS = {
    "YEARS_IN_OPERATION": ("Years in operation", 0.12),
    "REGISTERED_CAPITAL": ("Registered capital", 0.08),
    "PENALTIES": ("Administrative penalties", 0.10),
    "ABNORMAL_LIST": ("Abnormal-operations list", 0.10),
    "REDEMPTION_RATE": ("Redemption rate", 0.15),
    "COMPLAINT_RATE": ("Complaint rate", 0.15),
    "UNRESOLVED_COMPLAINTS": ("Unresolved complaints", 0.10),
    "REFUND_RATE": ("Refund rate", 0.10),
    "CUSTODY_COVERAGE": ("Custody coverage", 0.10),
    "STORE_CLOSURES": ("Store closures", 0.05),
}


# ---------------------------------------------------------------- people, merchants, stores


def _person(rng: random.Random) -> str:
    given = "".join(rng.choices(GIVEN_NAME_CHARACTERS, k=rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def _phones(rng: random.Random, prefix: str, count: int) -> list[str]:
    """Distinct mobile numbers that never collide with the demo accounts' 1380000000x."""
    return [f"{prefix}{number:08d}" for number in rng.sample(range(10**7, 10**8), count)]


def plan_people(world: World) -> None:
    for phone in _phones(world.rng, "138", CONSUMERS):
        world.consumers[phone] = _person(world.rng)


def _landline(rng: random.Random) -> str:
    return f"0517-8{rng.randrange(10**6, 10**7)}"


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
        StorePlan(
            f"洁净洗衣{road}店", f"{district}{road}{number}号", district, _landline(world.rng)
        )
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
        stores.append(StorePlan(store_name, address, where, _landline(rng)))
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
    owners = _phones(rng, "139", OTHER_MERCHANTS)
    counters = {status: 0 for status in MerchantStatus}
    for status, category, owner in zip(statuses, categories, owners, strict=True):
        district = rng.choices(districts, DISTRICT_WEIGHTS)[0]
        name = _unique_name(world, category, district, names)
        stores = _plan_stores(world, name, district)
        merchant = MerchantPlan(
            name=name,
            credit_code=_unique_code(world, district, codes),
            legal_representative=_person(rng),
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
        registry["legal_representative"] = _person(rng)
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
        merchant.registry["legal_representative"] = _person(world.rng)
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
        merchant.stores.append(StorePlan(name, address, district, _landline(world.rng)))


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
                "legal_representative": _person(world.rng),
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
