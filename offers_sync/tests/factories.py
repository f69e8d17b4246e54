"""Small builders for the offer-sync tests."""

import base64
import json
import time


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


def store_token(**fields) -> None:
    """Set fields of the shared access-token row (created if a flushed test database lacks it)."""
    from offers_sync.models import AccessToken

    AccessToken.objects.update_or_create(pk=AccessToken.SINGLETON_ID, defaults=fields)


def make_product(name: str = "Mug", description: str | None = None, **state):
    """A product created as the API would (with its sync state), with `state` fields of that state set."""
    from catalogue.models import Product
    from offers_sync.models import ProductSyncState

    product = Product.objects.create(name=name, description=description)
    if state:
        ProductSyncState.objects.filter(product=product).update(**state)
        product.sync_state.refresh_from_db()
    return product


def sync_state_of(product):
    """The product's sync state as stored now."""
    from offers_sync.models import ProductSyncState

    return ProductSyncState.objects.get(product_id=product.pk)
