"""Reconciling a product's cached offers with an answer: insert, update, delete, and no-op."""

import uuid

import pytest

from catalogue.tests.factories import ProductFactory
from offers_sync.client import OfferData
from offers_sync.models import Offer
from offers_sync.reconcile import AnswerRefused, offers_reconcile, offers_reconcile_many

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return ProductFactory(name="Mug")


def cached(product) -> set[tuple]:
    return set(Offer.objects.filter(product=product).values_list("id", "price", "items_in_stock"))


def answer(*offers: tuple) -> list[OfferData]:
    return [OfferData(*offer) for offer in offers]


def test_new_changed_and_vanished_offers(product):
    kept, moved, gone, new = (uuid.uuid4() for _ in range(4))
    offers_reconcile(product_id=product.id, reported=answer((kept, 100, 1), (moved, 200, 2), (gone, 300, 3)))
    changes = offers_reconcile(product_id=product.id, reported=answer((kept, 100, 1), (moved, 250, 0), (new, 50, 9)))
    assert cached(product) == {(kept, 100, 1), (moved, 250, 0), (new, 50, 9)}
    assert [o.id for o in changes.appeared] == [new]
    assert [o.id for o in changes.changed] == [moved]
    assert [(o.id, o.price, o.items_in_stock) for o in changes.vanished] == [(gone, 300, 3)]


def test_unchanged_answer_writes_nothing(product, django_assert_num_queries):
    offer_id = uuid.uuid4()
    offers_reconcile_many({product.id: answer((offer_id, 100, 1))})
    before = Offer.objects.get(pk=offer_id).updated_at
    with django_assert_num_queries(1):  # the one read, no transaction, no write
        counts = offers_reconcile_many({product.id: answer((offer_id, 100, 1))})
    assert (counts.added, counts.changed, counts.removed) == (0, 0, 0)
    assert Offer.objects.get(pk=offer_id).updated_at == before


def test_empty_answer_removes_every_offer(product):
    offers_reconcile(product_id=product.id, reported=answer((uuid.uuid4(), 1, 1), (uuid.uuid4(), 2, 2)))
    counts = offers_reconcile_many({product.id: []})
    assert cached(product) == set()
    assert counts.removed == 2


def test_many_products_are_reconciled_independently(product):
    other = ProductFactory(name="Other")
    a, b = uuid.uuid4(), uuid.uuid4()
    counts = offers_reconcile_many({product.id: answer((a, 1, 1)), other.id: answer((b, 2, 2))})
    assert cached(product) == {(a, 1, 1)}
    assert cached(other) == {(b, 2, 2)}
    assert (counts.added, counts.products_changed) == (2, 2)


@pytest.mark.django_db(transaction=True)  # the offers' foreign key is checked at a real commit
def test_deleted_product_is_skipped(product):
    product_id = product.id
    product.delete()
    counts = offers_reconcile_many({product_id: answer((uuid.uuid4(), 1, 1))})
    assert counts.added == 0
    assert Offer.objects.count() == 0


def test_a_failing_product_leaves_its_cache_and_others_alone(product):
    """An offer id that already belongs to another product makes that one product's answer refused."""
    other = ProductFactory(name="Other")
    shared, mine = uuid.uuid4(), uuid.uuid4()
    offers_reconcile(product_id=other.id, reported=answer((shared, 5, 5)))
    offers_reconcile(product_id=product.id, reported=answer((mine, 1, 1)))
    with pytest.raises(AnswerRefused, match="already belong to another product"):
        offers_reconcile(product_id=product.id, reported=answer((mine, 2, 2), (shared, 9, 9)))
    assert cached(product) == {(mine, 1, 1)}  # whole answer or nothing
    assert cached(other) == {(shared, 5, 5)}


def test_an_offer_id_another_product_holds_refuses_only_that_answer(product):
    holder, bystander = ProductFactory(name="Holder"), ProductFactory(name="Bystander")
    shared, mine, theirs = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    offers_reconcile_many({holder.id: answer((shared, 5, 5)), product.id: answer((mine, 1, 1))})
    counts = offers_reconcile_many(
        {
            holder.id: answer((shared, 6, 6)),
            product.id: answer((mine, 2, 2), (shared, 9, 9)),
            bystander.id: answer((theirs, 3, 3)),
        }
    )
    assert set(counts.failed) == {product.id}
    assert "another product" in counts.failed[product.id]
    assert cached(product) == {(mine, 1, 1)}
    assert cached(holder) == {(shared, 6, 6)}
    assert cached(bystander) == {(theirs, 3, 3)}


def test_two_products_reporting_one_new_offer_id_in_one_batch(product):
    """The first keeps it, the second is refused; nothing half-written for either."""
    other = ProductFactory(name="Other")
    shared, own = uuid.uuid4(), uuid.uuid4()
    counts = offers_reconcile_many({product.id: answer((shared, 1, 1)), other.id: answer((own, 2, 2), (shared, 1, 1))})
    assert set(counts.failed) == {other.id}
    assert cached(product) == {(shared, 1, 1)}
    assert cached(other) == set()


def test_a_database_error_on_one_product_fails_only_that_product(product):
    """Past the client's checks (it refuses such numbers), a value the column cannot hold."""
    other = ProductFactory(name="Other")
    kept, fine = uuid.uuid4(), uuid.uuid4()
    offers_reconcile(product_id=product.id, reported=answer((kept, 1, 1)))
    counts = offers_reconcile_many({product.id: answer((kept, 2**63, 1)), other.id: answer((fine, 2, 2))})
    assert counts.failed[product.id].startswith("offers could not be stored")
    assert cached(product) == {(kept, 1, 1)}
    assert cached(other) == {(fine, 2, 2)}


def test_a_batch_of_changed_products_costs_the_same_few_queries_as_one(product, django_assert_max_num_queries):
    """Changed products are written together: the queries do not grow with the batch."""
    products = [product, *(ProductFactory(name=f"P{i}") for i in range(39))]
    first = {p.id: answer((uuid.uuid4(), 10, 1), (uuid.uuid4(), 20, 2)) for p in products}
    offers_reconcile_many(first)
    # Every product: one offer changes, one vanishes, one appears.
    second = {pid: answer((offers[0].id, 11, 0), (uuid.uuid4(), 30, 3)) for pid, offers in first.items()}
    # The price history's subscriber adds up to three a batch for the prior prices: their read,
    # the removal of those gone, their upsert.
    with django_assert_max_num_queries(15):
        counts = offers_reconcile_many(second)
    assert (counts.products_changed, counts.added, counts.changed, counts.removed) == (40, 40, 40, 40)
    assert not counts.failed
    for p in products:
        assert cached(p) == {(o.id, o.price, o.items_in_stock) for o in second[p.id]}


def test_a_batch_that_fails_as_a_whole_is_written_product_by_product(product):
    """One unstorable answer in a batch: the batch is rolled back and the others written one by one."""
    others = [ProductFactory(name=f"P{i}") for i in range(3)]
    kept = uuid.uuid4()
    offers_reconcile(product_id=product.id, reported=answer((kept, 1, 1)))
    fresh = {p.id: answer((uuid.uuid4(), 5, 5)) for p in others}
    counts = offers_reconcile_many({others[0].id: fresh[others[0].id], product.id: answer((kept, 2**63, 1)),
                                    **{p.id: fresh[p.id] for p in others[1:]}})  # fmt: skip
    assert set(counts.failed) == {product.id}
    assert counts.failed[product.id].startswith("offers could not be stored")
    assert cached(product) == {(kept, 1, 1)}
    for p in others:
        assert cached(p) == {(o.id, o.price, o.items_in_stock) for o in fresh[p.id]}
    assert (counts.products_changed, counts.added) == (3, 3)
