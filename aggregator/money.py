"""Money as this deployment shows it: prices are whole minor units of one currency (`CURRENCY`).

The offers service reports prices as integers without a currency, so the currency is a property
of the deployment. Babel (CLDR data) knows each currency's minor unit, symbol and the locale's
grouping, so nothing here hard-codes them.
"""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision
from django.conf import settings
from django.utils.translation import to_locale

from aggregator.charts import nice_ticks


def minor_digits(currency: str | None = None) -> int:
    """Digits after the decimal point of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return get_currency_precision(currency or settings.CURRENCY)


def to_major_units(amount: int, currency: str | None = None) -> Decimal:
    """An integer amount in minor units as an exact decimal in major units (5496 EUR cents: 54.96)."""
    return Decimal(amount).scaleb(-minor_digits(currency))


def format_money(amount: int | None, currency: str | None = None) -> str:
    """`5496` as `€54.96` for EUR, `¥5,496` for JPY; an empty string for no amount."""
    if amount is None:
        return ""
    currency = currency or settings.CURRENCY
    return format_currency(to_major_units(amount, currency), currency, locale=to_locale(settings.LANGUAGE_CODE))


def money_ticks(low: int, high: int, count: int = 4) -> list[int]:
    """Axis ticks in minor units between `low` and `high` that are round in major units.

    A step of 1, 2 or 5 times a power of ten in minor units is one in major units too (EUR: 1 cent,
    …, 10 euros, 20 euros), and never less than one minor unit, so the labels all differ.
    """
    return [int(tick) for tick in nice_ticks(low, high, count, min_step=1)]
