"""Catalogue services under concurrency: deleting a product while the worker writes its offers."""

import threading
import time
import uuid
from unittest import mock

import pytest
from django.db import connection, connections

from catalogue.models import Product
from catalogue.services import product_delete
from catalogue.tests.factories import ProductFactory
from offers_sync import reconcile
from offers_sync.client import OfferData
from offers_sync.models import Offer
from offers_sync.reconcile import offers_reconcile
from offers_sync.tests.factories import OfferFactory


def run_in_thread(target) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = target()
        except Exception as exc:  # reported to the test, which asserts on it
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_until(check, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)


def backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_a_product_while_the_worker_writes_its_offers_deletes_everything():
    """Found by the soak: a DELETE racing a sync of the same product answered 500."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks and deferred foreign keys are PostgreSQL's")
    product = ProductFactory(name="Mug")
    old = OfferData(id=uuid.uuid4(), price=100, items_in_stock=1)
    OfferFactory(id=old.id, product=product, price=old.price, items_in_stock=old.items_in_stock)
    new = OfferData(id=uuid.uuid4(), price=90, items_in_stock=2)

    # The worker's reconcile stops inside its transaction (the product locked), just before
    # writing the new offer.
    inside, go_on = threading.Event(), threading.Event()
    real_write = reconcile.write_offer_changes

    def paused_write(*args, **kwargs):
        inside.set()
        go_on.wait(20)
        return real_write(*args, **kwargs)

    with mock.patch.object(reconcile, "write_offer_changes", side_effect=paused_write):
        worker, _ = run_in_thread(lambda: offers_reconcile(product_id=product.id, reported=[old, new]))
        wait_until(inside.is_set, "the worker to be mid-reconcile")
        deleter, deleted = run_in_thread(lambda: product_delete(product=Product.objects.get(pk=product.id)))
        wait_until(lambda: backends_waiting_on_a_lock() >= 1, "the delete to wait for the worker's row lock")
        go_on.set()
        worker.join(20)
        deleter.join(20)

    assert "error" not in deleted, deleted.get("error")
    assert not Product.objects.filter(pk=product.id).exists()
    assert Offer.objects.count() == 0


@pytest.mark.django_db
def test_the_admin_deletes_through_the_service(admin_client):
    products = [ProductFactory(name=f"p{i}") for i in range(3)]
    with mock.patch("catalogue.admin.product_delete", wraps=product_delete) as deleting:
        admin_client.post(f"/admin/catalogue/product/{products[0].id}/delete/", {"post": "yes"})
        admin_client.post(
            "/admin/catalogue/product/",
            {"action": "delete_selected", "_selected_action": [str(p.id) for p in products[1:]], "post": "yes"},
        )
    assert sorted(c.kwargs["product"].name for c in deleting.call_args_list) == ["p0", "p1", "p2"]
    assert Product.objects.count() == 0
