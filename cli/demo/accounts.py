"""The demo's named accounts and its laundry chain, which the README and the tests cite."""

from __future__ import annotations

from dataclasses import dataclass

from models.enums import Role
from services.credit_code import with_check_character

DEMO_CHAIN_CREDIT_CODE = with_check_character("91320800MA1XK7LD0")
DEMO_CHAIN_NAME = "淮安洁净洗衣连锁"
DEMO_PASSWORD = "anfu-demo-1"  # every demo account's, the generated ones too


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
