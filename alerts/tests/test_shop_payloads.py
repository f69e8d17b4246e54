"""What an alert's owner is told beyond the trigger itself: the currency, the best offer with its
prior price, and that the alert went with its product. Every signature is verified at the receiver."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from aggregator.tests.factories import TokenFactory, UserFactory
from alerts.models import Alert
from alerts.tests.conftest import Offers
from catalogue.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_triggered_alert_names_the_currency_and_the_best_offers_prior_price(product, make_alert, watch, settings):
    settings.CURRENCY = "JPY"
    offers = Offers(product.id)
    twelve_days_ago = timezone.now() - timedelta(days=12)
    with mock.patch("offers_sync.reconcile.timezone.now", return_value=twelve_days_ago):
        offers.report((1000, 3), (1500, 2))
    make_alert("price_below", 900, product)
    assert watch() == []
    offers.report((800, 3), (1500, 2))
    [event] = watch()
    data = event["data"]
    assert data["currency"] == "JPY"
    assert data["best_price"] == 800
    assert data["best_offer"]["id"] == str(offers.ids[0])
    assert data["best_offer"]["price"] == 800 and data["best_offer"]["items_in_stock"] == 3
    assert data["best_offer"]["prior_price"] == 1000
    assert data["best_offer"]["prior_price_since"] == twelve_days_ago.isoformat()


def test_an_alert_that_fires_at_creation_carries_the_best_offer_too(product, make_alert, watch):
    Offers(product.id).report((500, 1))
    make_alert("price_below", 1000, product)
    [event] = watch()
    assert event["data"]["best_offer"]["price"] == 500
    assert event["data"]["best_offer"]["prior_price"] is None  # its first price


def test_deleting_a_product_tells_each_alert_owner_before_the_alert_goes(product, make_alert, watch, receiver):
    alert = make_alert("back_in_stock", None, product)
    # Another user, allowed to delete products, deletes it.
    deleter = APIClient()
    deleter.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=UserFactory(is_superuser=True)).key}")
    response = deleter.delete(f"/products/{product.id}")
    assert response.status_code == 204
    assert not Alert.objects.filter(id=alert["id"]).exists()
    [event] = watch()
    assert event["type"] == "alert.deleted"
    assert event["data"]["alert"]["id"] == alert["id"]
    assert event["data"]["product"] == {"id": str(product.id), "name": "Kettle"}
    assert event["data"]["reason"] == "product_deleted"


def test_a_product_without_alerts_is_deleted_without_events(auth_client, watch):
    product = Product.objects.create(name="Lamp")
    product.delete()
    assert watch() == []
    assert not Product.objects.filter(id=product.id).exists()


def test_a_deletion_that_rolls_back_sends_nothing(product, make_alert, watch):
    alert = make_alert("back_in_stock", None, product)
    with pytest.raises(RuntimeError), transaction.atomic():
        Product.objects.get(id=product.id).delete()
        raise RuntimeError("the deleting transaction fails after the delete")
    assert watch() == []
    assert Alert.objects.filter(id=alert["id"]).exists()
