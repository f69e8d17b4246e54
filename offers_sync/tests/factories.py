"""factory-boy factories and small builders for the offer-sync tests.

Values are sequences or fixed, never random in anything a parametrised id could show, so every
pytest-xdist worker collects the same tests.
"""

import base64
import json
import time
import uuid

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from catalogue.tests.factories import ProductFactory, ProductRowFactory
from offers_sync.models import AccessToken, Offer, ProductSyncState


class ProductSyncStateFactory(DjangoModelFactory):
    """A product's sync state with the given fields set.

    Saving a product already gives it its state row (offers_sync.receivers), so this sets the
    fields of that row rather than inserting a second one; a product made by `bulk_create` (no
    state yet) gets one.
    """

    class Meta:
        model = ProductSyncState

    product = factory.SubFactory(ProductFactory)

    class Params:
        registered = factory.Trait(registered_at=factory.LazyFunction(timezone.now), next_registration_at=None)

    @classmethod
    def _create(cls, model_class, *args, product, **fields):
        state, _ = model_class.objects.update_or_create(product=product, defaults=fields)
        product.sync_state = state
        return state


class OfferFactory(ProductRowFactory):
    """A mirrored offer. Its id is a fresh UUID, as the offers service hands out."""

    class Meta:
        model = Offer

    id = factory.LazyFunction(uuid.uuid4)
    price = 1000
    items_in_stock = 1


class AccessTokenFactory(DjangoModelFactory):
    """The one shared access-token row, with the given fields (created if a flushed database lacks it)."""

    class Meta:
        model = AccessToken

    @classmethod
    def _create(cls, model_class, *args, **fields):
        token, _ = model_class.objects.update_or_create(pk=model_class.SINGLETON_ID, defaults=fields)
        return token


def make_product(name: str = "Mug", description: str | None = None, **state):
    """A product created as the API would (with its sync state), with `state` fields of that state set."""
    product = ProductFactory(name=name, description=description)
    if state:
        ProductSyncStateFactory(product=product, **state)
    return product


def sync_state_of(product):
    """The product's sync state as stored now."""
    return ProductSyncState.objects.get(product_id=product.pk)


def store_token(**fields) -> None:
    """Set fields of the shared access-token row."""
    AccessTokenFactory(**fields)


def make_access_token(expires: float | None = None, refresh_token: str = "refresh") -> str:
    """A JWT-shaped access token like the service's (the signature is never checked by us)."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    expires = int(time.time() + 300) if expires is None else int(expires)
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'token': refresh_token, 'expires': expires})}.c2ln"


class StaticTokens:
    """A TokenSource that hands out a fixed sequence of tokens and remembers invalidations."""

    def __init__(self, *tokens: str):
        self.tokens = list(tokens) or ["access-1"]
        self.invalidated: list[str] = []

    def get(self) -> str:
        return self.tokens[0]

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        if len(self.tokens) > 1 and self.tokens[0] == token:
            self.tokens.pop(0)
