"""The unified social credit code (统一社会信用代码) of GB 32100-2015: 18 characters, check digit last."""

from __future__ import annotations

import re

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authority (1 digit/letter), kind, 6-digit region code, 9-character organisation code.
FORM = re.compile(r"[1-9ANY][1-9]\d{6}[0-9A-HJ-NPQRTUWXY]{10}")


def check_character(first_17: str) -> str:
    """The 18th character for the first 17."""
    total = sum(CHARSET.index(ch) * weight for ch, weight in zip(first_17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def with_check_character(first_17: str) -> str:
    return first_17 + check_character(first_17)


def problem_with(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if len(code) != 18:
        return f"a credit code has 18 characters, not {len(code)}"
    if not FORM.fullmatch(code):
        return "a credit code uses digits and the capital letters of GB 32100-2015 in its layout"
    if check_character(code[:17]) != code[17]:
        return "the check character (the 18th) does not match the first 17"
    return None
