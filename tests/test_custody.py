"""Properties of the custody arithmetic (services/custody.py): rounding always favours the consumer.

Pure functions, so hypothesis checks them over the whole range of amounts a card can hold
(up to the 5,000.00 cap, and well beyond for the arithmetic itself).
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st

from services.custody import (
    FULL_CUSTODY_BP,
    MIN_CUSTODY_BP,
    cash_value_after_redemption,
    custody_share,
    face_value_for_payment,
)

# A card's face balance and cash value in fen; price <= face, so cash <= balance.
balances = st.integers(min_value=1, max_value=10_000_000)
ratios_bp = st.integers(min_value=MIN_CUSTODY_BP, max_value=FULL_CUSTODY_BP)


@st.composite
def cards(draw: st.DrawFn) -> tuple[int, int]:
    """(balance, cash value) of a live card: cash value at most the balance."""
    balance = draw(balances)
    cash = draw(st.integers(min_value=0, max_value=balance))
    return balance, cash


@st.composite
def card_and_redemption(draw: st.DrawFn) -> tuple[int, int, int]:
    balance, cash = draw(cards())
    redeemed = draw(st.integers(min_value=1, max_value=balance))
    return balance, cash, redeemed


def test_the_design_example():
    # Given a 700/1000 card, when 100.00 is redeemed, then 630.00 of cash stays and 70.00 goes.
    assert cash_value_after_redemption(100_000, 70_000, 10_000) == 63_000
    # Redeeming the whole balance releases everything left.
    assert cash_value_after_redemption(90_000, 63_000, 90_000) == 0
    # Top-up: 350.00 onto a 700/1000 card adds 500.00; odd amounts round down to the fen.
    assert face_value_for_payment(35_000, 70_000, 100_000) == 50_000
    assert face_value_for_payment(1, 70_000, 100_000) == 1
    assert face_value_for_payment(7, 70_000, 100_000) == 10
    assert face_value_for_payment(3, 70_000, 100_000) == 4
    # Custody share: ceil(ratio * cash).
    assert custody_share(4_000, 63_001) == 25_201
    assert custody_share(10_000, 63_001) == 63_001


@given(card_and_redemption())
def test_cash_value_after_redemption_stays_between_zero_and_the_old_cash(case):
    balance, cash, redeemed = case
    after = cash_value_after_redemption(balance, cash, redeemed)
    assert 0 <= after <= cash


@given(card_and_redemption())
def test_the_consumer_never_loses_a_fen_against_exact_proportion(case):
    balance, cash, redeemed = case
    after = cash_value_after_redemption(balance, cash, redeemed)
    exact = Fraction(cash * (balance - redeemed), balance)
    # Rounded up, never down, and by less than one fen.
    assert exact <= after < exact + 1


@given(card_and_redemption(), st.integers(min_value=1, max_value=10_000_000))
def test_cash_left_is_monotone_in_the_amount_redeemed(case, more):
    balance, cash, redeemed = case
    assume(redeemed + more <= balance)
    assert cash_value_after_redemption(balance, cash, redeemed + more) <= (
        cash_value_after_redemption(balance, cash, redeemed)
    )


@given(card_and_redemption(), st.integers(min_value=1, max_value=10_000_000))
def test_cash_left_is_monotone_in_the_cash_behind_the_card(case, extra_cash):
    balance, cash, redeemed = case
    assume(cash + extra_cash <= balance)
    assert cash_value_after_redemption(balance, cash, redeemed) <= (
        cash_value_after_redemption(balance, cash + extra_cash, redeemed)
    )


@given(card_and_redemption())
def test_a_balance_left_keeps_some_cash_behind_it(case):
    balance, cash, redeemed = case
    assume(cash > 0 and redeemed < balance)
    assert cash_value_after_redemption(balance, cash, redeemed) > 0


@given(cards(), st.data())
def test_redeeming_in_pieces_releases_all_the_cash_in_the_end(card, data):
    balance, cash = card
    pieces = data.draw(
        st.lists(st.integers(min_value=1, max_value=balance), min_size=1, max_size=30)
    )
    released_total = 0
    left_balance, left_cash = balance, cash
    for piece in pieces:
        if left_balance == 0:
            break
        piece = min(piece, left_balance)
        after = cash_value_after_redemption(left_balance, left_cash, piece)
        released = left_cash - after
        assert released >= 0
        released_total += released
        left_balance, left_cash = left_balance - piece, after
    # Whatever is left is redeemed at once: the card ends empty and all the cash was released,
    # exactly as redeeming the whole balance at once would have.
    if left_balance:
        released_total += left_cash - cash_value_after_redemption(
            left_balance, left_cash, left_balance
        )
    assert released_total == cash - cash_value_after_redemption(balance, cash, balance) == cash


@given(cards(), st.data())
def test_pieces_never_release_more_than_one_redemption_of_their_sum(card, data):
    """Rounding in the consumer's favour: splitting a redemption never releases more cash."""
    balance, cash = card
    pieces = data.draw(st.lists(st.integers(min_value=1, max_value=balance), max_size=10))
    assume(0 < sum(pieces) <= balance)
    left_balance, left_cash = balance, cash
    for piece in pieces:
        left_cash = cash_value_after_redemption(left_balance, left_cash, piece)
        left_balance -= piece
    at_once = cash_value_after_redemption(balance, cash, sum(pieces))
    assert left_cash >= at_once


@given(ratios_bp, st.integers(min_value=0, max_value=10**12))
def test_custody_share_is_the_ratio_rounded_up_to_the_fen(ratio_bp, cash):
    share = custody_share(ratio_bp, cash)
    exact = Fraction(ratio_bp * cash, FULL_CUSTODY_BP)
    assert exact <= share < exact + 1
    assert 0 <= share <= cash


@given(ratios_bp, st.integers(min_value=0, max_value=10**9), st.integers(0, 10**9))
def test_custody_share_is_monotone_in_cash(ratio_bp, cash, more):
    assert custody_share(ratio_bp, cash) <= custody_share(ratio_bp, cash + more)


@given(ratios_bp, card_and_redemption())
def test_a_redemption_never_takes_custody_below_zero(ratio_bp, case):
    balance, cash, redeemed = case
    before = custody_share(ratio_bp, cash)
    after = custody_share(ratio_bp, cash_value_after_redemption(balance, cash, redeemed))
    assert 0 <= after <= before


@given(
    st.integers(min_value=1, max_value=500_000),
    st.integers(min_value=1, max_value=500_000),
    st.integers(min_value=0, max_value=500_000),
)
def test_top_up_value_is_the_face_price_ratio_rounded_down(price, extra_face, pay):
    face = price + extra_face - 1  # price <= face
    added = face_value_for_payment(pay, price, face)
    exact = Fraction(pay * face, price)
    assert exact - 1 < added <= exact
    assert added >= pay  # price <= face: never less face value than cash paid
