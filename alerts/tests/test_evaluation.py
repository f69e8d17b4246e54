"""Alerts fire on the transitions of their kind, as the sync changes offers, and only then:
checked at the receiver, with every signature verified."""

import pytest

from alerts.models import Delivery, WebhookEvent
from alerts.tests.conftest import Offers
from catalogue.models import Product
from offers_sync.client import OfferData
from offers_sync.reconcile import offers_reconcile
from offers_sync.signals import offers_changed_batch

# run_webhooks closes stale connections between rounds, as a worker must: no test-wide transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def best_prices(events):
    return [e["data"]["best_price"] for e in events]


def test_price_below_fires_when_crossing_and_rearms(product, make_alert, watch):
    offers = Offers(product.id)
    offers.report((1500, 3))
    alert = make_alert("price_below", 1000, product)
    assert watch() == []
    offers.report((1200, 3), (1100, 0))
    assert watch() == []
    offers.report((900, 3))
    [event] = watch()
    assert event["type"] == "alert.triggered"
    assert event["data"]["alert"] == {"id": alert["id"], "kind": "price_below", "threshold": 1000,
                                      "product_id": str(product.id)}  # fmt: skip
    assert event["data"]["product"] == {"id": str(product.id), "name": "Kettle"}
    assert event["data"]["best_price"] == 900 and event["data"]["previous_best_price"] == 1200
    assert event["data"]["offers_in_stock"] == 1
    assert event["data"]["observed_at"]
    offers.report((800, 3))
    assert watch() == []  # still below: no news
    offers.report((800, 0))
    assert watch() == []  # nothing in stock: no best price, re-armed
    offers.report((950, 1))
    assert best_prices(watch()) == [950]


def test_price_below_that_already_holds_fires_at_creation(product, make_alert, watch):
    Offers(product.id).report((500, 1))
    make_alert("price_below", 1000, product)
    [event] = watch()
    assert event["data"]["best_price"] == 500 and event["data"]["previous_best_price"] is None


def test_price_drop_trails_the_highest_price_since_it_last_fired(product, make_alert, watch):
    offers = Offers(product.id)
    offers.report((1000, 1))
    make_alert("price_drop", 20, product)
    offers.report((900, 1))
    assert watch() == []
    offers.report((800, 1))
    assert best_prices(watch()) == [800]
    offers.report((700, 1))
    assert watch() == []  # 12.5 % below the new reference 800
    offers.report((1500, 1))
    offers.report((1300, 1))
    assert watch() == []
    offers.report((1200, 1))
    assert best_prices(watch()) == [1200]


@pytest.mark.parametrize("starts_in_stock", [True, False])
def test_stock_alerts_start_from_the_products_state(product, make_alert, watch, starts_in_stock):
    offers = Offers(product.id)
    offers.report((100, 1 if starts_in_stock else 0))
    make_alert("back_in_stock", None, product)
    make_alert("out_of_stock", None, product)
    assert watch() == []
    offers.report((100, 2 if starts_in_stock else 0), (90, 0))
    assert watch() == []  # no change of in-stock state
    offers.report((100, 0) if starts_in_stock else (100, 1))
    [event] = watch()
    assert event["data"]["alert"]["kind"] == ("out_of_stock" if starts_in_stock else "back_in_stock")
    offers.report((100, 1) if starts_in_stock else (100, 0))
    [event] = watch()
    assert event["data"]["alert"]["kind"] == ("back_in_stock" if starts_in_stock else "out_of_stock")


def test_every_offer_vanishing_is_out_of_stock(product, make_alert, watch):
    offers = Offers(product.id)
    offers.report((100, 1), (120, 4))
    make_alert("out_of_stock", None, product)
    offers.report()
    [event] = watch()
    assert event["data"]["offers_in_stock"] == 0 and event["data"]["best_price"] is None
    assert event["data"]["previous_best_price"] == 100


def test_an_alert_for_every_product_judges_each_product_on_its_own(make_alert, watch):
    kettle, toaster = Product.objects.create(name="Kettle"), Product.objects.create(name="Toaster")
    kettle_offers, toaster_offers = Offers(kettle.id), Offers(toaster.id)
    kettle_offers.report((1000, 1))
    toaster_offers.report((2000, 1))
    make_alert("price_drop", 10)
    make_alert("price_below", 950)
    make_alert("back_in_stock")
    toaster_offers.report((1900, 1))
    kettle_offers.report((900, 1))  # 10 % fall and below 950
    events = watch()
    assert sorted((e["data"]["product"]["name"], e["data"]["alert"]["kind"]) for e in events) == [
        ("Kettle", "price_below"),
        ("Kettle", "price_drop"),
    ]
    toaster_offers.report((1750, 1))  # 10 % under toaster's own reference, 2000 → 1800 or below
    assert [(e["data"]["product"]["name"], e["data"]["alert"]["kind"]) for e in watch()] == [("Toaster", "price_drop")]
    kettle_offers.report((900, 0))  # out of stock: price_below re-arms, price_drop keeps 900
    kettle_offers.report((800, 1))  # back, below 950, and 11 % under 900
    events = watch()
    assert sorted(e["data"]["alert"]["kind"] for e in events) == ["back_in_stock", "price_below", "price_drop"]
    assert all(e["data"]["alert"]["product_id"] is None for e in events)


def test_a_rolled_back_offer_change_sends_nothing(product, make_alert, watch):
    offers = Offers(product.id)
    offers.report((1000, 1))
    make_alert("price_below", 900, product)

    def fail(**kwargs):
        raise RuntimeError("a later subscriber fails")

    offers_changed_batch.connect(fail, dispatch_uid="test.fail")  # after the alerts' own receiver
    try:
        from offers_sync.reconcile import offers_reconcile_many

        counts = offers_reconcile_many({product.id: [OfferData(id=offers.ids[0], price=800, items_in_stock=1)]})
    finally:
        offers_changed_batch.disconnect(dispatch_uid="test.fail")
    assert product.id in counts.failed
    assert WebhookEvent.objects.count() == 0 and Delivery.objects.count() == 0
    assert watch() == []
    offers_reconcile(product_id=product.id, reported=[OfferData(id=offers.ids[0], price=800, items_in_stock=1)])
    assert best_prices(watch()) == [800]


def test_evaluation_costs_one_query_for_a_product_without_alerts(product, django_assert_num_queries):
    offers = Offers(product.id)
    offers.report((1000, 1))
    from alerts.services import alerts_evaluate_batch
    from offers_sync.signals import OffersChanged

    changes = OffersChanged(
        product_id=product.id, observed_at=product.created_at, appeared=(), changed=(), vanished=(), offers=()
    )
    with django_assert_num_queries(1):
        alerts_evaluate_batch(changes=[changes])
