"""factory-boy factories for the catalogue's rows.

Values are sequences, never random, so a test's rows (and any parametrised id built from them)
are the same in every pytest-xdist worker.
"""

import factory
from factory.django import DjangoModelFactory

from catalogue.models import Product


class ProductFactory(DjangoModelFactory):
    """A product saved as `Product.objects.create` saves it (so its post_save receivers run)."""

    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    description = None


class ProductRowFactory(DjangoModelFactory):
    """Base of the factories of another app's rows that belong to a product (offers, price events):
    given `product_id` (a product from an API answer), no product of its own is made."""

    class Meta:
        abstract = True

    product_id = None
    product = factory.Maybe("product_id", yes_declaration=None, no_declaration=factory.SubFactory(ProductFactory))

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        unset = [key for key in ("product", "product_id") if kwargs.get(key) is None]
        return {key: value for key, value in kwargs.items() if key not in unset}
