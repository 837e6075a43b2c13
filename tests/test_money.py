"""The Money scalar: "5.00" is the only form of five yuan; DateTime input carries an offset."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
import strawberry
from hypothesis import given
from hypothesis import strategies as st
from strawberry.schema.config import StrawberryConfig

from core.errors import BadInput
from schema.context import Context
from schema.errors import ErrorCodes
from schema.scalars import SCALARS, Money
from services.money import MAX_FEN, format_money, parse_money, require_positive

ECHO_VARIABLE = "query Echo($amount: Money!) { echo(amount: $amount) }"
ECHO_LITERAL = "query EchoLiteral { echo(amount: %s) }"
ECHO_LIST = "query EchoList($amounts: [Money!]!) { echoAll(amounts: $amounts) }"
AT_VARIABLE = "query At($at: DateTime!) { at(at: $at) }"
AT_LITERAL = "query AtLiteral { at(at: %s) }"
STORED_TIME = "{ storedTime }"
BALANCE = "{ balance }"

ACCEPTED = {
    "0.00": 0,
    "0.01": 1,
    "0.10": 10,
    "5.00": 500,
    "700.00": 70_000,
    "1234.56": 123_456,
    "10000000000000.00": MAX_FEN,
}
REJECTED_STRINGS = [
    "5",
    "5.0",
    "5.000",
    "+5.00",
    "-5.00",
    "-0.00",
    "5e2",
    "1E2.00",
    "5.00e0",
    "NaN",
    "Infinity",
    "",
    " 5.00",
    "5.00 ",
    "5.00\n",
    "05.00",
    "00.00",
    ".50",
    "5.",
    "5,00",
    "5_000.00",
    "0x10.00",
    "５.００",  # full-width digits
    "٥.٠٠",  # Arabic-Indic digits
    "¥5.00",
    "5.00元",
    "10000000000000.01",  # one fen over the cap
    "100000000000000.00",
    "99999999999999999999.00",
]
# A sign or a size is the only thing wrong with these: the message says which.
REASONS = {
    "-5.00": "must not be negative",
    "-0.01": "must not be negative",
    "+5.00": 'without a sign, e.g. "5.00"',
    "-0.00": 'without a sign, e.g. "0.00"',
    "10000000000000.01": "too large: at most 10000000000000.00",
    "99999999999999999999.00": "too large: at most 10000000000000.00",
}
REJECTED_NON_STRINGS: list[Any] = [5, 5.0, 500, None, True, False, Decimal("5.00"), ["5.00"]]
CANONICAL = re.compile(r"(0|[1-9][0-9]*)\.[0-9]{2}")


@strawberry.type
class EchoQuery:
    @strawberry.field
    def echo(self, amount: Money) -> Money:
        return amount

    @strawberry.field
    def echo_all(self, amounts: list[Money]) -> list[Money]:
        return amounts

    @strawberry.field
    def at(self, at: dt.datetime) -> dt.datetime:
        return at

    @strawberry.field
    def stored_time(self) -> dt.datetime:
        # What the database hands back for a UTC column when a driver drops the zone.
        return dt.datetime(2026, 7, 1, 0, 30)

    @strawberry.field
    def balance(self) -> Money:
        return Money(-150)


test_schema = strawberry.Schema(
    query=EchoQuery,
    config=StrawberryConfig(scalar_map=SCALARS),  # type: ignore[arg-type]
    extensions=[ErrorCodes],
)


async def _execute(query: str, variables: dict[str, Any] | None = None) -> Any:
    return await test_schema.execute(query, variable_values=variables, context_value=Context())


def _codes(result: Any) -> list[str]:
    return [error.extensions["code"] for error in result.errors or []]


def _oracle(text: str) -> int | None:
    """What parse_money should make of `text`, worked out with Decimal instead of a pattern."""
    if not text.isascii() or text.startswith(("-", "+")):
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or format(amount, ".2f") != text:
        return None
    fen = int(amount * 100)
    return fen if fen <= MAX_FEN else None


# parse_money and format_money


@pytest.mark.parametrize(("text", "fen"), sorted(ACCEPTED.items()))
def test_parse_money_reads_canonical_amounts(text, fen):
    assert parse_money(text) == fen
    assert format_money(fen) == text


@pytest.mark.parametrize("text", REJECTED_STRINGS)
def test_parse_money_refuses_other_spellings(text):
    with pytest.raises(BadInput) as raised:
        parse_money(text)

    assert raised.value.code == "BAD_USER_INPUT"


@pytest.mark.parametrize("value", REJECTED_NON_STRINGS, ids=repr)
def test_parse_money_refuses_anything_but_a_string(value):
    with pytest.raises(BadInput):
        parse_money(value)


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (1, "0.01"), (99, "0.99"), (-1, "-0.01"), (-150, "-1.50")]
)
def test_format_money_writes_two_decimals_and_keeps_a_sign(fen, text):
    assert format_money(fen) == text


@pytest.mark.parametrize("value", [1.5, Decimal("1.50"), True, "150"], ids=repr)
def test_format_money_refuses_anything_but_integer_fen(value):
    with pytest.raises(TypeError):
        format_money(value)


def test_require_positive_refuses_zero_and_below():
    assert require_positive(1) == 1
    for fen in (0, -1):
        with pytest.raises(BadInput):
            require_positive(fen, "top-up")


@given(st.integers(min_value=0, max_value=MAX_FEN))
def test_parse_inverts_format(fen):
    assert parse_money(format_money(fen)) == fen


@given(st.from_regex(r"(0|[1-9][0-9]{0,12})\.[0-9]{2}", fullmatch=True))
def test_format_inverts_parse_for_canonical_strings(text):
    assert CANONICAL.fullmatch(text)
    assert format_money(parse_money(text)) == text


@given(
    st.one_of(
        st.text(max_size=24),
        st.from_regex(r"[ +\-]?[0-9０-９]{0,4}([.,][0-9]{0,4})?([eE][+\-]?[0-9])?", fullmatch=True),
    )
)
def test_parse_money_accepts_exactly_what_decimal_formats_back(text):
    expected = _oracle(text)

    if expected is None:
        with pytest.raises(BadInput):
            parse_money(text)
    else:
        assert parse_money(text) == expected


# The Money scalar over GraphQL


@pytest.mark.parametrize("text", sorted(ACCEPTED))
async def test_money_variables_echo_back(text):
    result = await _execute(ECHO_VARIABLE, {"amount": text})

    assert result.errors is None
    assert result.data == {"echo": text}


@pytest.mark.parametrize("text", sorted(ACCEPTED))
async def test_money_literals_echo_back(text):
    result = await _execute(ECHO_LITERAL % json.dumps(text))

    assert result.errors is None
    assert result.data == {"echo": text}


@pytest.mark.parametrize("value", REJECTED_STRINGS + REJECTED_NON_STRINGS, ids=repr)
async def test_a_rejected_money_variable_is_bad_user_input(value):
    result = await _execute(ECHO_VARIABLE, {"amount": value})

    assert result.data is None
    assert _codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].message.startswith("Variable '$amount'")


@pytest.mark.parametrize("text", REJECTED_STRINGS)
async def test_a_rejected_money_literal_is_bad_user_input(text):
    result = await _execute(ECHO_LITERAL % json.dumps(text))

    assert result.data is None
    assert _codes(result) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("literal", ["5", "5.0", "500", "true", "FIVE", '["5.00"]', "{a: 1}"])
async def test_a_money_literal_that_is_not_a_string_is_bad_user_input(literal):
    result = await _execute(ECHO_LITERAL % literal)

    assert result.data is None
    assert _codes(result) == ["BAD_USER_INPUT"]


async def test_the_reason_for_a_rejected_amount_is_given_once():
    result = await _execute(ECHO_VARIABLE, {"amount": "5.0"})

    message = result.errors[0].message
    assert message.count("'5.0' is not a valid amount") == 1
    assert "exactly two decimals" in message


@pytest.mark.parametrize(("text", "reason"), sorted(REASONS.items()))
async def test_a_signed_or_oversized_amount_says_what_is_wrong(text, reason):
    as_variable = await _execute(ECHO_VARIABLE, {"amount": text})
    as_literal = await _execute(ECHO_LITERAL % json.dumps(text))

    for result in (as_variable, as_literal):
        assert _codes(result) == ["BAD_USER_INPUT"]
        message = result.errors[0].message
        assert reason in message
        assert "two decimals" not in message


async def test_money_in_a_list_variable_points_at_the_bad_item():
    result = await _execute(ECHO_LIST, {"amounts": ["1.00", "2", "3.00"]})

    assert _codes(result) == ["BAD_USER_INPUT"]
    assert "[1]" in result.errors[0].message


async def test_money_output_keeps_the_sign_of_a_debt():
    result = await _execute(BALANCE)

    assert result.data == {"balance": "-1.50"}


# DateTime


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-07-01T08:00:00+08:00", "2026-07-01T00:00:00+00:00"),
        ("2026-07-01T00:00:00Z", "2026-07-01T00:00:00+00:00"),
        ("2026-06-30T20:00:00-04:00", "2026-07-01T00:00:00+00:00"),
        ("2026-07-01T08:00:00.250+08:00", "2026-07-01T00:00:00.250000+00:00"),
    ],
)
async def test_a_datetime_with_an_offset_comes_back_in_utc(text, utc):
    from_variable = await _execute(AT_VARIABLE, {"at": text})
    from_literal = await _execute(AT_LITERAL % json.dumps(text))

    assert from_variable.errors is None and from_literal.errors is None
    assert from_variable.data == from_literal.data == {"at": utc}


@pytest.mark.parametrize(
    "value", ["2026-07-01T08:00:00", "2026-07-01", "yesterday", "", 1_780_000_000], ids=repr
)
async def test_a_datetime_without_an_offset_is_bad_user_input(value):
    from_variable = await _execute(AT_VARIABLE, {"at": value})
    from_literal = await _execute(AT_LITERAL % json.dumps(value))

    assert _codes(from_variable) == ["BAD_USER_INPUT"]
    assert _codes(from_literal) == ["BAD_USER_INPUT"]


async def test_a_naive_datetime_from_storage_is_written_as_utc():
    result = await _execute(STORED_TIME)

    assert result.data == {"storedTime": "2026-07-01T00:30:00+00:00"}
    assert dt.datetime.fromisoformat(result.data["storedTime"]).utcoffset() == dt.timedelta(0)
