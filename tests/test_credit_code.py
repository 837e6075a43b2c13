"""The unified social credit code (GB 32100-2015): layout and check character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.credit_code import CHARSET, check_character, problem_with, with_check_character

REAL_CODE = "91110000802100433B"  # a published code; its check character is a letter
FORBIDDEN_LETTERS = "IOZSV"
LETTERS = "ABCDEFGHJKLMNPQRTUWXY"


def first_17_strategy() -> st.SearchStrategy[str]:
    """The first 17 characters in the standard's layout: authority, kind, region, organisation."""
    return st.builds(
        lambda authority, kind, region, organisation: authority + kind + region + organisation,
        st.sampled_from("123456789ANY"),
        st.sampled_from("123456789"),
        st.text("0123456789", min_size=6, max_size=6),
        st.text(CHARSET, min_size=9, max_size=9),
    )


valid_codes = first_17_strategy().map(with_check_character)


def test_a_known_real_code_is_valid():
    assert problem_with(REAL_CODE) is None
    assert check_character(REAL_CODE[:17]) == "B"


@given(valid_codes)
def test_with_check_character_always_makes_a_valid_code(code):
    assert len(code) == 18
    assert problem_with(code) is None


@given(valid_codes, st.integers(0, 17), st.integers(1, len(CHARSET) - 1))
def test_changing_any_single_character_makes_the_code_invalid(code, position, shift):
    replacement = CHARSET[(CHARSET.index(code[position]) + shift) % len(CHARSET)]
    changed = code[:position] + replacement + code[position + 1 :]

    assert changed != code
    assert problem_with(changed) is not None


@given(valid_codes, st.integers(0, 16))
def test_swapping_two_neighbouring_characters_is_caught(code, position):
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]

    if swapped != code:
        assert problem_with(swapped) is not None


@given(st.text(max_size=30))
def test_any_text_gets_an_answer_and_only_valid_codes_pass(text):
    problem = problem_with(text)

    if problem is None:
        assert len(text) == 18
        assert all(ch in CHARSET for ch in text)
        assert check_character(text[:17]) == text[17]
    else:
        assert isinstance(problem, str)


@given(valid_codes.filter(lambda code: any(ch in LETTERS for ch in code)))
def test_lower_case_letters_are_rejected(code):
    assert problem_with(code.lower()) is not None


@given(valid_codes, st.integers(8, 16), st.sampled_from(FORBIDDEN_LETTERS))
def test_letters_the_standard_leaves_out_are_rejected(code, position, letter):
    # Everything else stays as in a valid code: only the letter is wrong.
    body = code[:position] + letter + code[position + 1 : 17]
    assert problem_with(body + code[17]) is not None


@pytest.mark.parametrize(
    "code",
    ["", REAL_CODE[:17], REAL_CODE + "0", REAL_CODE[:-1] + "b", " " + REAL_CODE[:17]],
)
def test_wrong_length_or_lower_case_is_rejected(code):
    assert problem_with(code) is not None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("9111000080210043", "a credit code has 18 characters, not 16"),
        (
            "911100008021004I3B",
            "a credit code uses digits and the capital letters of GB 32100-2015 in its layout",
        ),
        (
            "01110000802100433B",  # registration authority 0 does not exist
            "a credit code uses digits and the capital letters of GB 32100-2015 in its layout",
        ),
        ("91110000802100433C", "the check character (the 18th) does not match the first 17"),
    ],
)
def test_each_fault_has_its_own_reason(code, reason):
    assert problem_with(code) == reason
