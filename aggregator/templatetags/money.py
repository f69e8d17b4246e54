"""`{{ amount|money }}`: a price in minor units as the deployment's currency shows it (aggregator.money)."""

from django import template

from aggregator.money import format_money

register = template.Library()


@register.filter
def money(amount) -> str:
    """`5496` as `€54.96` (EUR); an em dash for no amount."""
    return "—" if amount is None or amount == "" else format_money(int(amount))
