"""factory-boy factories for the price history's rows (sequences, never random: xdist-stable)."""

import datetime as dt
import uuid

import factory

from catalogue.tests.factories import ProductRowFactory
from price_history.models import PriceEvent


class PriceEventFactory(ProductRowFactory):
    """One recorded change of an offer, as the sync's subscriber writes it."""

    class Meta:
        model = PriceEvent

    offer_id = factory.LazyFunction(uuid.uuid4)
    kind = PriceEvent.Kind.APPEARED
    price = 1000
    items_in_stock = 1
    observed_at = factory.Sequence(lambda n: dt.datetime(2025, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n))
