"""Fixtures of the alerts tests: a signature-checking receiver, endpoints, products and offers."""

import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from aggregator.tests.scrape import samples
from alerts.tests.receiver import Receiver
from catalogue.models import Product
from offers_sync.client import OfferData
from offers_sync.reconcile import offers_reconcile


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def product(db):
    return Product.objects.create(name="Kettle")


@pytest.fixture
def endpoint(auth_client, receiver):
    """An endpoint of `auth_client`'s user pointing at the receiver (which knows its secret)."""
    response = auth_client.post("/webhooks", {"url": receiver.url}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    receiver.secrets.append(body["secret"])
    return body


def offer(price: int, stock: int = 1, offer_id: uuid.UUID | None = None) -> OfferData:
    return OfferData(id=offer_id or uuid.uuid4(), price=price, items_in_stock=stock)


class Offers:
    """A product's offers as the offers service reports them; `report` runs them through the sync's
    reconciler, which publishes the change to the alerts as a real sync does."""

    def __init__(self, product_id):
        self.product_id = product_id
        self.ids = [uuid.uuid4() for _ in range(5)]

    def report(self, *offers: tuple[int, int]) -> None:
        reported = [
            OfferData(id=self.ids[i], price=price, items_in_stock=stock) for i, (price, stock) in enumerate(offers)
        ]
        offers_reconcile(product_id=self.product_id, reported=reported)


OUTCOMES = ("delivered", "retrying", "failed", "lost", "gone")


def attempts(text: str) -> dict[str, float]:
    """The worker's attempts by outcome, in a scrape of its metrics."""
    found = samples(text)
    return {outcome: found[("aggregator_webhook_deliveries_total", (("outcome", outcome),))] for outcome in OUTCOMES}


def deliver_due() -> str:
    out = StringIO()
    call_command("run_webhooks", "--once", stdout=out)
    return out.getvalue()


@pytest.fixture
def make_alert(auth_client, endpoint):
    def make(kind, threshold=None, product=None):
        response = auth_client.post(
            "/alerts",
            {
                "webhook_id": endpoint["id"],
                "product_id": None if product is None else str(product.id),
                "kind": kind,
                "threshold": threshold,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        return response.json()

    return make


class Watch:
    """Delivers what is due and returns the events the receiver got since the last look."""

    def __init__(self, receiver):
        self.receiver, self.seen = receiver, 0

    def __call__(self) -> list[dict]:
        deliver_due()
        new = self.receiver.received[self.seen :]
        self.seen = len(self.receiver.received)
        assert all(r.verified for r in new), "a delivery's signature did not verify"
        return [r.body for r in new]


@pytest.fixture
def watch(receiver):
    return Watch(receiver)
