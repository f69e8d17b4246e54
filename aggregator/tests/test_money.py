"""The deployment's currency: required and validated at start, and prices formatted in its minor unit."""

import os
import subprocess
import sys

import pytest

from aggregator.money import format_money


def start_with(currency: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SECRET_KEY": "k", "DJANGO_SETTINGS_MODULE": "aggregator.settings"}
    env.pop("CURRENCY", None)
    if currency is not None:
        env["CURRENCY"] = currency
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("currency", [None, "", "EURO", "eur", "XYZ"])
def test_a_missing_or_unknown_currency_stops_the_start_with_one_line(currency):
    started = start_with(currency)
    assert started.returncode == 1
    assert started.stderr.strip().startswith("configuration error: CURRENCY must")
    assert "Traceback" not in started.stderr


def test_a_known_currency_starts():
    assert start_with("JPY").returncode == 0


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [
        ("EUR", 5496, "€54.96"),
        ("USD", 123456789, "$1,234,567.89"),
        ("JPY", 5496, "¥5,496"),
        ("KWD", 5496, "KWD5.496"),
        ("EUR", 0, "€0.00"),
    ],
)
def test_prices_are_shown_in_the_currencys_minor_unit(settings, currency, amount, shown):
    settings.CURRENCY = currency
    assert format_money(amount).replace("\xa0", "") == shown


def test_no_amount_is_shown_as_nothing():
    assert format_money(None) == ""
