"""The transition rules of each alert kind, as sequences of best prices and stock."""

import pytest

from alerts.rules import OfferSummary, evaluate, initial_state


def run(kind, threshold, start, *steps):
    """Start the alert at `start`, then evaluate each step; the steps at which it fired."""
    fired_at_start, state = initial_state(kind, threshold, start)
    fired = ["start"] if fired_at_start else []
    for index, now in enumerate(steps):
        fires, state = evaluate(kind, threshold, state, now)
        if fires:
            fired.append(index)
    return fired


def price(best, in_stock=1):
    return OfferSummary(best_price=best, offers_in_stock=in_stock)


NONE = OfferSummary(best_price=None, offers_in_stock=0)


def test_price_below_fires_on_crossing_and_rearms_only_when_it_stops_holding():
    assert run("price_below", 100, price(150), price(120), price(100), price(90), price(80), price(130), price(95)) == [
        1,
        5,
    ]


def test_price_below_fires_at_once_when_it_already_holds_and_not_again_until_rearmed():
    assert run("price_below", 100, price(50), price(40), price(60)) == ["start"]


def test_price_below_counts_no_best_price_as_not_holding():
    # Out of stock re-arms it: coming back below the threshold is news.
    assert run("price_below", 100, price(90), NONE, price(90)) == ["start", 1]


def test_price_drop_keeps_a_trailing_reference():
    # 20 %: reference 1000 → 900 no (not 20 %), 800 fires (ref 800), 1200 raises ref, 960 fires.
    assert run("price_drop", 20, price(1000), price(900), price(800), price(700), price(1200), price(960)) == [1, 4]


def test_price_drop_fires_again_after_every_further_fall():
    assert run("price_drop", 10, price(1000), price(900), price(810), price(729)) == [0, 1, 2]


def test_price_drop_takes_its_reference_from_the_first_best_price_seen():
    assert run("price_drop", 50, NONE, price(100), NONE, price(50)) == [2]


def test_price_drop_at_exactly_the_percentage_fires():
    assert run("price_drop", 25, price(400), price(301), price(300)) == [1]


@pytest.mark.parametrize("start_in_stock", [True, False])
def test_back_in_stock_starts_from_the_current_state(start_in_stock):
    start = price(10) if start_in_stock else NONE
    fired = run("back_in_stock", None, start, price(10), NONE, price(12), price(11), NONE, price(9))
    assert fired == [2, 5] if start_in_stock else [0, 2, 5]


@pytest.mark.parametrize("start_in_stock", [True, False])
def test_out_of_stock_starts_from_the_current_state(start_in_stock):
    start = price(10) if start_in_stock else NONE
    fired = run("out_of_stock", None, start, NONE, NONE, price(5), NONE)
    assert fired == [0, 3] if start_in_stock else [3]
