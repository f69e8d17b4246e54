"""The `offers_changed_batch` hook: what a subscriber is handed, and that its writes share the offers' fate."""

import uuid
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from offers_sync.client import OfferData
from offers_sync.models import Offer
from offers_sync.reconcile import offers_reconcile_many
from offers_sync.signals import OffersChanged, offers_changed_batch
from offers_sync.tests.factories import make_product, sync_state_of
from offers_sync.tests.test_sync import TICK, mirrored, offer, serve_offers, service, syncer  # noqa: F401
from price_history.models import PriceEvent
from price_history.tests.factories import PriceEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    """Every OffersChanged sent while the test runs, batch after batch."""
    seen = []

    def receiver(sender, *, changes, **kwargs):
        seen.extend(changes)

    offers_changed_batch.connect(receiver, dispatch_uid="test-received")
    yield seen
    offers_changed_batch.disconnect(dispatch_uid="test-received")


@pytest.fixture
def failing_for():
    """failing_for(product_id): a subscriber that writes a row per product, then raises if that one is in the batch."""
    doomed = set()

    def receiver(sender, *, changes, **kwargs):
        for change in changes:
            PriceEventFactory(
                offer_id=uuid.uuid4(),
                product_id=change.product_id,
                kind="appeared",
                price=0,
                items_in_stock=0,
                observed_at=change.observed_at,
            )
        if any(change.product_id in doomed for change in changes):
            raise RuntimeError("alert rules unavailable")

    offers_changed_batch.connect(receiver, dispatch_uid="test-failing")
    yield doomed.add
    offers_changed_batch.disconnect(dispatch_uid="test-failing")


def test_a_subscriber_gets_what_changed_before_and_after_and_the_whole_set(received):
    product = make_product(registered_at=timezone.now())
    kept, moved, gone, new = (uuid.uuid4() for _ in range(4))
    offers_reconcile_many({product.id: [OfferData(kept, 100, 1), OfferData(moved, 200, 2), OfferData(gone, 50, 3)]})
    offers_reconcile_many({product.id: [OfferData(kept, 100, 1), OfferData(moved, 250, 0), OfferData(new, 90, 9)]})
    offers_reconcile_many({product.id: [OfferData(kept, 100, 1), OfferData(moved, 250, 0), OfferData(new, 90, 9)]})

    assert len(received) == 2  # nothing for the unchanged answer
    changes = received[1]
    assert isinstance(changes, OffersChanged)
    assert changes.product_id == product.id
    assert changes.appeared == (OfferData(new, 90, 9),)
    assert [(c.id, c.before, c.after) for c in changes.changed] == [
        (moved, OfferData(moved, 200, 2), OfferData(moved, 250, 0))
    ]
    assert changes.vanished == (OfferData(gone, 50, 3),)
    assert sorted(changes.offers, key=lambda o: o.price) == [
        OfferData(new, 90, 9),
        OfferData(kept, 100, 1),
        OfferData(moved, 250, 0),
    ]
    assert sorted(changes.offers_before(), key=lambda o: o.price) == [
        OfferData(gone, 50, 3),
        OfferData(kept, 100, 1),
        OfferData(moved, 200, 2),
    ]
    assert Offer.objects.get(pk=moved).updated_at == changes.observed_at


@responses.activate
def test_a_failing_subscriber_fails_its_product_only(service, failing_for):  # noqa: F811
    doomed = make_product("doomed", registered_at=timezone.now())
    fine = make_product("fine", registered_at=timezone.now())
    failing_for(doomed.id)
    upstream = {str(doomed.id): [offer(10)], str(fine.id): [offer(20)]}
    serve_offers(upstream)

    summary = syncer(service).run_cycle(TICK)

    assert (summary.products_synced, summary.products_failed) == (1, 1)
    assert mirrored(doomed) == []  # rolled back, with the subscriber's row
    assert PriceEvent.objects.filter(product=doomed).count() == 0
    assert [price for _, price, _ in mirrored(fine)] == [20]
    state = sync_state_of(doomed)
    assert state.offers_synced_at is None
    assert state.last_sync_error == "a subscriber of offers_changed failed: RuntimeError"
    assert sync_state_of(fine).offers_synced_at is not None

    # Once the subscriber recovers, the next tick writes the offers.
    offers_changed_batch.disconnect(dispatch_uid="test-failing")
    syncer(service).run_cycle(TICK + timedelta(seconds=30))
    assert [price for _, price, _ in mirrored(doomed)] == [10]
    assert sync_state_of(doomed).last_sync_error == ""


def test_in_a_batch_a_failing_subscriber_costs_only_its_product(failing_for, received):
    products = [make_product(f"p{i}", registered_at=timezone.now()) for i in range(5)]
    doomed = products[2]
    failing_for(doomed.id)
    answers = {p.id: [OfferData(uuid.uuid4(), 10 + i, 1)] for i, p in enumerate(products)}

    counts = offers_reconcile_many(answers)

    assert set(counts.failed) == {doomed.id}
    assert counts.failed[doomed.id] == "a subscriber of offers_changed failed: RuntimeError"
    assert not Offer.objects.filter(product=doomed).exists()
    assert PriceEvent.objects.filter(product=doomed).count() == 0
    for p in products:
        if p != doomed:
            assert list(Offer.objects.filter(product=p).values_list("price", flat=True)) == [answers[p.id][0].price]
            # the subscriber's row and the price history's event, committed with the offers
            assert PriceEvent.objects.filter(product=p).count() == 2
    # What committed was handed over once per product in the end (after the rolled-back batch).
    committed = [c for c in received if c.product_id != doomed.id]
    assert sorted(c.product_id for c in committed[-4:]) == sorted(p.id for p in products if p != doomed)


def test_the_batch_hook_gets_every_changed_product_of_a_batch_once():
    batches = []

    def receiver(sender, *, changes, **kwargs):
        batches.append(changes)

    products = [make_product(f"p{i}", registered_at=timezone.now()) for i in range(3)]
    same = uuid.uuid4()
    offers_reconcile_many({products[0].id: [OfferData(same, 1, 1)]})
    offers_changed_batch.connect(receiver, dispatch_uid="test-batch")
    try:
        offers_reconcile_many({
            products[0].id: [OfferData(same, 1, 1)],  # unchanged: not in the batch
            products[1].id: [OfferData(uuid.uuid4(), 2, 2)],
            products[2].id: [OfferData(uuid.uuid4(), 3, 3)],
        })  # fmt: skip
    finally:
        offers_changed_batch.disconnect(dispatch_uid="test-batch")
    assert len(batches) == 1
    assert [c.product_id for c in batches[0]] == [products[1].id, products[2].id]
    assert len({c.observed_at for c in batches[0]}) == 1
