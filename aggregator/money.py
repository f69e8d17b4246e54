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


def format_money(amount: int | None) -> str:
    """`5496` as `€54.96` for EUR, `¥5,496` for JPY; an empty string for no amount."""
    if amount is None:
        return ""
    # Whole minor units as an exact decimal in major units: the currency's digits (EUR 2, JPY 0, KWD 3).
    major = Decimal(amount).scaleb(-get_currency_precision(settings.CURRENCY))
    return format_currency(major, settings.CURRENCY, locale=to_locale(settings.LANGUAGE_CODE))


def money_ticks(low: int, high: int) -> list[int]:
    """Axis ticks in minor units between `low` and `high` that are round in major units.

    A step of 1, 2 or 5 times a power of ten in minor units is one in major units too (EUR: 1 cent,
    …, 10 euros, 20 euros), and never less than one minor unit, so the labels all differ.
    """
    return [int(tick) for tick in nice_ticks(low, high, min_step=1)]
