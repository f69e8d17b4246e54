"""factory-boy factories for the price history's rows (sequences, never random: xdist-stable), and
`record_events`, which writes events through `offer_events_record_many`, as the sync's subscriber
does (prior prices aside)."""

import datetime as dt
import uuid
from collections.abc import Sequence

import factory

from catalogue.tests.factories import ProductRowFactory
from offers_sync.client import OfferData
from offers_sync.signals import OfferChange, OffersChanged
from price_history.models import PriceEvent
from price_history.services import offer_events_record_many


class PriceEventFactory(ProductRowFactory):
    """One recorded change of an offer, as the sync's subscriber writes it."""

    class Meta:
        model = PriceEvent

    offer_id = factory.LazyFunction(uuid.uuid4)
    kind = PriceEvent.Kind.APPEARED
    price = 1000
    items_in_stock = 1
    observed_at = factory.Sequence(lambda n: dt.datetime(2025, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n))


def record_events(
    product_id: uuid.UUID,
    observed_at: dt.datetime,
    *,
    appeared: Sequence[OfferData] = (),
    changed: Sequence[OfferData] = (),
    vanished: Sequence[OfferData] = (),
) -> int:
    """Record one product's change as the sync reports it (`changed` holds each offer after it); return the count."""
    change = OffersChanged(
        product_id=product_id,
        observed_at=observed_at,
        appeared=tuple(appeared),
        changed=tuple(OfferChange(before=offer, after=offer) for offer in changed),
        vanished=tuple(vanished),
        offers=(*appeared, *changed),
    )
    return offer_events_record_many([change])
