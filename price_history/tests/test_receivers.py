"""Through the sync's reconciler: each answer that changes offers records their history with them."""

import uuid
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offers_sync.client import OfferData
from offers_sync.models import Offer
from offers_sync.reconcile import offers_reconcile, offers_reconcile_many
from offers_sync.signals import SubscriberFailed
from price_history.models import PriceEvent

pytestmark = pytest.mark.django_db


def _events(product):
    return [
        (offer_id, kind, price, stock)
        for offer_id, kind, price, stock in PriceEvent.objects.filter(product=product)
        .order_by("observed_at", "kind")
        .values_list("offer_id", "kind", "price", "items_in_stock")
    ]


def test_appear_change_vanish_are_recorded_and_unchanged_offers_are_not(product):
    kept, moved, gone, new = (uuid.uuid4() for _ in range(4))
    offers_reconcile(
        product_id=product.id,
        reported=[OfferData(kept, 100, 1), OfferData(moved, 200, 2), OfferData(gone, 300, 3)],
    )
    offers_reconcile(
        product_id=product.id,
        reported=[OfferData(kept, 100, 1), OfferData(moved, 250, 0), OfferData(new, 50, 9)],
    )
    events = _events(product)
    assert sorted(events[:3]) == sorted(
        [(kept, "appeared", 100, 1), (moved, "appeared", 200, 2), (gone, "appeared", 300, 3)]
    )
    assert sorted(events[3:]) == sorted(
        [(new, "appeared", 50, 9), (moved, "changed", 250, 0), (gone, "vanished", 300, 3)]
    )
    # The events carry the same moment as the offers' update.
    observed = PriceEvent.objects.filter(offer_id=moved, kind="changed").get().observed_at
    assert Offer.objects.get(pk=moved).updated_at == observed


def test_an_unchanged_answer_records_nothing(product):
    offer_id = uuid.uuid4()
    offers_reconcile_many({product.id: [OfferData(offer_id, 100, 1)]})
    with CaptureQueriesContext(connection) as queries:
        offers_reconcile_many({product.id: [OfferData(offer_id, 100, 1)]})
    assert PriceEvent.objects.count() == 1
    assert not [q for q in queries if "price_history" in q["sql"]]


def test_offers_and_history_commit_together(product):
    offer_id = uuid.uuid4()
    offers_reconcile(product_id=product.id, reported=[OfferData(offer_id, 100, 1)])
    with (
        mock.patch("price_history.receivers.offer_events_record_many", side_effect=RuntimeError("disk full")),
        pytest.raises(SubscriberFailed),
    ):
        offers_reconcile(product_id=product.id, reported=[OfferData(offer_id, 90, 1)])
    assert Offer.objects.get(pk=offer_id).price == 100  # the offer change was rolled back with it
    assert PriceEvent.objects.count() == 1


def test_the_trend_endpoint_sees_what_the_sync_recorded(api_client, product):
    cheap, dear = uuid.uuid4(), uuid.uuid4()
    offers_reconcile(product_id=product.id, reported=[OfferData(cheap, 100, 1), OfferData(dear, 300, 1)])
    offers_reconcile(product_id=product.id, reported=[OfferData(dear, 300, 1)])
    body = api_client.get(f"/products/{product.id}/price-trend").json()
    assert body["end"] == {**body["end"], "best_price": 300, "average_price": 300.0, "offers_in_stock": 1}
    history = api_client.get(f"/products/{product.id}/offers/history?offer={cheap}").json()
    assert [e["kind"] for e in history] == ["appeared", "vanished"]


def test_a_batch_of_changed_products_records_its_events_in_one_insert(product):
    from catalogue.models import Product

    others = [Product.objects.create(name=f"Other {i}") for i in range(4)]
    answers = {p.id: [OfferData(uuid.uuid4(), 10, 1), OfferData(uuid.uuid4(), 20, 0)] for p in [product, *others]}
    with CaptureQueriesContext(connection) as queries:
        offers_reconcile_many(answers)
    inserts = [q for q in queries if q["sql"].startswith("INSERT") and "price_history" in q["sql"]]
    assert len(inserts) == 1
    for p in [product, *others]:
        assert sorted(_events(p)) == sorted((o.id, "appeared", o.price, o.items_in_stock) for o in answers[p.id])
