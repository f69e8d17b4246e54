"""factory-boy factories for the price history's rows (sequences, never random: xdist-stable)."""

import datetime as dt
import uuid

import factory
from factory.django import DjangoModelFactory

from catalogue.tests.factories import ProductFactory
from price_history.models import PriceEvent


class PriceEventFactory(DjangoModelFactory):
    """One recorded change of an offer, as the sync's subscriber writes it."""

    class Meta:
        model = PriceEvent

    offer_id = factory.LazyFunction(uuid.uuid4)
    # Given `product_id` (a product from an API answer), no product of its own is made.
    product_id = None
    product = factory.Maybe("product_id", yes_declaration=None, no_declaration=factory.SubFactory(ProductFactory))
    kind = PriceEvent.Kind.APPEARED
    price = 1000
    items_in_stock = 1
    observed_at = factory.Sequence(lambda n: dt.datetime(2025, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n))

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        unset = [key for key in ("product", "product_id") if kwargs.get(key) is None]
        return {key: value for key, value in kwargs.items() if key not in unset}
