"""The platform's merchant categories are reference data: every database has them."""

from tortoise import migrations
from tortoise.migrations import operations as ops

CATEGORIES = [
    ("HOTEL_DINING", "酒店餐饮"),
    ("RETAIL", "商超零售"),
    ("BEAUTY", "美容美发"),
    ("LAUNDRY", "洗衣"),
    ("EDUCATION", "教育培训"),
    ("FITNESS", "健身运动"),
    ("LEISURE", "休闲娱乐"),
    ("HOUSEKEEPING", "家政服务"),
    ("AUTO_SERVICE", "汽车服务"),
]


class Migration(migrations.Migration):
    dependencies = [("anfu", "0001_initial")]

    operations = [
        ops.RunSQL(
            [
                "INSERT INTO categories (code, name, position) "
                f"VALUES ('{code}', '{name}', {position}) ON CONFLICT (code) DO NOTHING"
                for position, (code, name) in enumerate(CATEGORIES)
            ],
            reverse_sql=[f"DELETE FROM categories WHERE code = '{code}'" for code, _ in CATEGORIES],
        ),
    ]
