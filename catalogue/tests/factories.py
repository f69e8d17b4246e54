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
