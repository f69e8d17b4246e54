"""The trend's replay against a plain reconstruction of "the offers at time t", on random histories."""

import random
import uuid
from datetime import timedelta
from fractions import Fraction

import pytest

from price_history.selectors import price_trend_get, round_half_up
from price_history.tests.conftest import T0

pytestmark = pytest.mark.django_db


def _state_at(history, t):
    """Offers in stock at t, straight from the definition: each offer's latest event at or before t."""
    latest = {}
    for at, offer_id, kind, price, stock in history:
        if at <= t:
            latest[offer_id] = (kind, price, stock)
    prices = [price for kind, price, stock in latest.values() if kind != "vanished" and stock > 0]
    if not prices:
        return None, None, 0
    return min(prices), Fraction(sum(prices), len(prices)), len(prices)


@pytest.fixture
def random_history(record):
    """300 moments over 10 days, several changes at some, odd microseconds, offers coming and going."""
    rng = random.Random(7)
    offers = {}
    history = []
    at = T0
    for _ in range(300):
        at += timedelta(
            seconds=rng.randint(1, 6000), microseconds=rng.choice([0, 1, 999_999, rng.randint(0, 10**6 - 1)])
        )
        appeared, changed, vanished = [], [], []
        for _ in range(rng.choice([1, 1, 2, 3])):
            if not offers or rng.random() < 0.15:
                offer_id = uuid.uuid4()
                offers[offer_id] = (rng.randint(0, 500), rng.choice([0, 1, 4]))
                appeared.append((offer_id, *offers[offer_id]))
            elif rng.random() < 0.1:
                offer_id = rng.choice(list(offers))
                if any(row[0] == offer_id for row in appeared + changed):
                    continue
                vanished.append((offer_id, *offers.pop(offer_id)))
            else:
                offer_id = rng.choice(list(offers))
                if any(row[0] == offer_id for row in appeared + changed + vanished):
                    continue
                offers[offer_id] = (rng.randint(1, 500), rng.choice([0, 2, 7]))
                changed.append((offer_id, *offers[offer_id]))
        record(at, appeared=appeared, changed=changed, vanished=vanished)
        for kind, rows in (("appeared", appeared), ("changed", changed), ("vanished", vanished)):
            history += [(at, offer_id, kind, price, stock) for offer_id, price, stock in rows]
    return history


@pytest.mark.parametrize("window", [(0, 10), (2, 5), (3.3, 3.4), (-1, 1), (9.9, 20)])
def test_replay_matches_the_definition(product, random_history, window):
    since, until = (T0 + timedelta(days=d) for d in window)
    trend = price_trend_get(product_id=product.id, since=since, until=until)
    # A period that begins before the history starts at its first event.
    first = min(at for at, *_ in random_history)
    if first > since:
        assert trend.history_starts_at == first
        since = first
    else:
        assert trend.history_starts_at is None

    for snapshot, t in [(trend.start, since), (trend.end, until), *((p, p.at) for p in trend.points)]:
        assert (snapshot.best_price, snapshot.average_price, snapshot.offers_in_stock) == _state_at(random_history, t)
    # Every moment in the period at which the visible state changed has its point, and no other.
    moments = sorted({at for at, *_ in random_history if since < at <= until})
    expected = [since] + [
        t
        for previous, t in zip([since, *moments], moments, strict=False)
        if _state_at(random_history, t) != _state_at(random_history, previous)
    ]
    assert [p.at for p in trend.points] == expected


def test_sampled_points_match_the_definition(product, random_history):
    since, until = T0 + timedelta(hours=30, minutes=7), T0 + timedelta(days=6)
    trend = price_trend_get(product_id=product.id, since=since, until=until, interval=timedelta(hours=1))
    assert trend.points[0].at == since
    assert trend.points[1].at == T0 + timedelta(hours=31)
    assert trend.points[-1].at == until
    assert len(trend.points) == 1 + (6 * 24 - 31) + 1
    for point in trend.points:
        assert (point.best_price, point.average_price, point.offers_in_stock) == _state_at(random_history, point.at)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(1, 8), "0.13"),
        (Fraction(-1, 8), "-0.13"),
        (Fraction(100, 3), "33.33"),
        (Fraction(-200, 3), "-66.67"),
        (0, "0.00"),
        (Fraction(1, 200), "0.01"),
        (Fraction(-1, 200), "-0.01"),
        (Fraction(1, 201), "0.00"),
    ],
)
def test_round_half_up(value, rounded):
    assert str(round_half_up(value, 2)) == rounded


def test_reading_the_period_in_small_pages_changes_nothing(product, random_history, monkeypatch):
    from price_history import selectors

    since, until = T0, T0 + timedelta(days=20)
    whole = price_trend_get(product_id=product.id, since=since, until=until)
    monkeypatch.setattr(selectors, "EVENT_CHUNK", 7)  # pages end between events of the same moment
    paged = price_trend_get(product_id=product.id, since=since, until=until)
    assert paged == whole
    assert len(paged.points) > 50
