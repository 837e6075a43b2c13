"""What shops sell: the nine merchant categories with their name suffixes, card templates
and usual spend, and how many of the other merchants fall in each (for the merchant planner).
"""

from __future__ import annotations

from dataclasses import dataclass


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
