"""Each offer's prior price: its lowest price in the PRIOR_PRICE_DAYS before its current price.

A shop announcing a reduced price must show the lowest price of the previous 30 days (EU
Directive 98/6/EC, Article 6a). The window is anchored where the current price took effect, so
the answer changes only when the price does: it is worked out then, once, inside the sync's
transaction, from the events recorded before, and stored in `PriorPrice`; a read joins it and
replays nothing.

The prices an offer had in the window are the one in force at its start (the offer's last event
before it, unless that event is its vanishing) and those of its events inside it. Where the
offer's history starts inside the window, the answer covers only that part, and says from when
(`lowest_price_since`), so "lowest in 30 days" can be told from "lowest since we first saw it".
An offer's first price has no earlier one, and no row. Retention keeps each offer's
last event before its cutoff, and a stored answer is never recomputed, so pruning changes none.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min, OuterRef, Subquery

from offers_sync.models import Offer
from offers_sync.signals import OffersChanged
from price_history.models import PriceEvent, PriorPrice

_VANISHED = PriceEvent.Kind.VANISHED.value


def prior_prices_record(changes: Iterable[OffersChanged]) -> None:
    """Work out the prior price of every offer whose price took effect in `changes`; drop vanished ones.

    Runs in the reconciler's transaction before the changes' own events are written (an event at
    the moment a price takes effect is not "before" it). No transaction of its own.
    """
    taking_effect: dict[datetime, dict[uuid.UUID, uuid.UUID]] = defaultdict(dict)
    without_prior: list[uuid.UUID] = []
    for change in changes:
        for offer in change.appeared:
            taking_effect[change.observed_at][offer.id] = change.product_id
        for offer_change in change.changed:
            if offer_change.after.price != offer_change.before.price:
                taking_effect[change.observed_at][offer_change.after.id] = change.product_id
        without_prior.extend(offer.id for offer in change.vanished)
    rows = []
    for price_since, offers in taking_effect.items():
        for offer_id, product_id, lowest, since in _lowest_before(offers, price_since):
            if lowest is None:  # a first price: no row, as for an offer never priced before
                without_prior.append(offer_id)
            else:
                rows.append(
                    PriorPrice(
                        offer_id=offer_id,
                        product_id=product_id,
                        price_since=price_since,
                        lowest_price=lowest,
                        lowest_price_since=since,
                    )
                )
    if without_prior:
        PriorPrice.objects.filter(offer_id__in=without_prior).delete()
    if rows:
        PriorPrice.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["offer"],
            update_fields=["product", "price_since", "lowest_price", "lowest_price_since"],
        )


def _lowest_before(offers: dict[uuid.UUID, uuid.UUID], price_since: datetime):
    """(offer id, product id, lowest price, covered since) over the window before `price_since`.

    One query for all the offers: each one's price at the window's start, its lowest price inside
    the window and its first event, each a lookup on the (product, offer, time) index.
    """
    start = price_since - timedelta(days=settings.PRIOR_PRICE_DAYS)
    events = PriceEvent.objects.filter(product_id=OuterRef("product_id"), offer_id=OuterRef("id"))
    before_start = events.filter(observed_at__lt=start).order_by("-observed_at", "-id")
    inside = events.filter(observed_at__gte=start, observed_at__lt=price_since)
    first = events.filter(observed_at__lt=price_since).order_by("observed_at", "id")
    rows = (
        Offer.objects.filter(id__in=list(offers))
        .annotate(
            start_price=Subquery(before_start.values("price")[:1]),
            start_kind=Subquery(before_start.values("kind")[:1]),
            inside_lowest=Subquery(inside.order_by().values("offer_id").annotate(low=Min("price")).values("low")),
            first_seen=Subquery(first.values("observed_at")[:1]),
        )
        .values_list("id", "start_price", "start_kind", "inside_lowest", "first_seen")
    )
    for offer_id, start_price, start_kind, inside_lowest, first_seen in rows:
        prices = [inside_lowest] if inside_lowest is not None else []
        if start_price is not None and start_kind != _VANISHED:
            prices.append(start_price)
        if not prices:
            yield offer_id, offers[offer_id], None, None
        else:
            yield offer_id, offers[offer_id], min(prices), max(start, first_seen)
