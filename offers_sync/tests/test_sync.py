"""A sync cycle with the offers service mocked: mirroring, failures, registration and claims."""

import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from django.utils import timezone

from catalogue.tests.factories import ProductFactory
from offers_sync.client import OffersServiceClient
from offers_sync.gateway import OffersService
from offers_sync.models import Offer, ProductSyncState, SyncStatus
from offers_sync.sync import CycleAborted, OfferSyncer
from offers_sync.sync_states import products_claim_for_tick
from offers_sync.tests.factories import OfferFactory, make_access_token, make_product, store_token, sync_state_of
from offers_sync.tokens import DatabaseTokenSource

pytestmark = pytest.mark.django_db
BASE = "http://offers.test"
OFFERS = re.compile(rf"{BASE}/api/v1/products/([0-9a-f-]+)/offers")
TICK = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def service():
    store_token(token=make_access_token(), expires_at=timezone.now() + timedelta(minutes=5))
    client = OffersServiceClient(BASE, wait=lambda s: False, max_attempts=2)
    return OffersService(client=client, tokens=DatabaseTokenSource(client, "refresh", wait=lambda s: False))


def syncer(service, name="worker-1", **kwargs):
    return OfferSyncer(service=service, concurrency=4, worker_name=name, **kwargs)


def registered(count=1):
    return [make_product(f"p{i}", registered_at=timezone.now()) for i in range(count)]


def serve_offers(upstream: dict, fetched: list | None = None, status_for: dict | None = None):
    """Answer offers requests from `upstream` ({product_id: [offer dicts]}), like the service would."""

    def callback(request):
        product_id = OFFERS.match(request.url).group(1)
        if fetched is not None:
            fetched.append(product_id)
        if status_for and status_for.get(product_id) == "timeout":
            raise requests.ReadTimeout("no answer in time")
        if status_for and product_id in status_for:
            return status_for[product_id], {}, json.dumps({"detail": "fault"})
        if product_id not in upstream:
            return 404, {}, json.dumps({"detail": "Product does not exist"})
        return 200, {}, json.dumps(upstream[product_id])

    responses.add_callback(responses.GET, OFFERS, callback=callback)


def offer(price=100, stock=1, offer_id=None):
    return {"id": str(offer_id or uuid.uuid4()), "price": price, "items_in_stock": stock}


def mirrored(product):
    return sorted(Offer.objects.filter(product=product).values_list("id", "price", "items_in_stock"))


def expected(offers):
    return sorted((uuid.UUID(o["id"]), o["price"], o["items_in_stock"]) for o in offers)


@responses.activate
def test_cycle_mirrors_every_registered_product_and_records_health(service):
    products = registered(5)
    upstream = {str(p.id): [offer(100 + i), offer(200 + i, 0)] for i, p in enumerate(products)}
    serve_offers(upstream)
    summary = syncer(service).run_cycle(TICK)
    assert summary.products_synced == 5
    assert summary.offers_added == 10
    for product in products:
        assert mirrored(product) == expected(upstream[str(product.id)])
        assert sync_state_of(product).offers_synced_at is not None
    assert SyncStatus.objects.get().last_cycle_finished_at is not None
    assert SyncStatus.objects.get().last_cycle_summary["products_synced"] == 5


@responses.activate
def test_churn_is_followed_and_an_unchanged_answer_changes_nothing(service):
    (product,) = registered(1)
    same, moving, vanishing = offer(), offer(500, 5), offer(700, 7)
    upstream = {str(product.id): [same, moving, vanishing]}
    serve_offers(upstream)
    syncer(service).run_cycle(TICK)
    upstream[str(product.id)] = [same, {**moving, "price": 450}, offer(10, 1)]
    summary = syncer(service).run_cycle(TICK + timedelta(seconds=30))
    assert mirrored(product) == expected(upstream[str(product.id)])
    assert (summary.offers_added, summary.offers_changed, summary.offers_removed) == (1, 1, 1)
    stamps = dict(Offer.objects.values_list("id", "updated_at"))
    summary = syncer(service).run_cycle(TICK + timedelta(seconds=60))
    assert (summary.offers_added, summary.offers_changed, summary.offers_removed) == (0, 0, 0)
    assert dict(Offer.objects.values_list("id", "updated_at")) == stamps


@responses.activate
@pytest.mark.parametrize("failure", [500, 503, 422, "malformed", "timeout"])
def test_a_failed_answer_keeps_the_cached_offers_and_others_go_on(service, failure):
    broken, healthy = registered(2)
    upstream = {str(broken.id): [offer(1), offer(2)], str(healthy.id): [offer(3)]}
    serve_offers(upstream)
    syncer(service).run_cycle(TICK)
    before = mirrored(broken)
    responses.reset()
    upstream[str(healthy.id)] = [offer(4)]
    if failure == "malformed":
        upstream[str(broken.id)] = [offer(5), {"id": "x", "price": "free"}]
        serve_offers(upstream)
    else:
        serve_offers(upstream, status_for={str(broken.id): failure})
    summary = syncer(service).run_cycle(TICK + timedelta(seconds=30))
    assert mirrored(broken) == before
    assert mirrored(healthy) == expected(upstream[str(healthy.id)])
    assert (summary.products_synced, summary.products_failed) == (1, 1)
    state = sync_state_of(broken)
    assert state.last_sync_error
    assert "Bearer" not in state.last_sync_error


@responses.activate
def test_404_marks_the_product_for_registration_again(service):
    (product,) = registered(1)
    OfferFactory(product=product, price=1, items_in_stock=1)
    serve_offers({})
    summary = syncer(service).run_cycle(TICK)
    state = sync_state_of(product)
    assert summary.products_unregistered == 1
    assert state.registered_at is None
    assert state.next_registration_at is not None
    assert Offer.objects.filter(product=product).count() == 1  # cache kept


@responses.activate
def test_pending_products_are_registered_then_synced_in_the_same_cycle(service):
    product = make_product("Mug", description=None)
    bodies = []

    def register(request):
        bodies.append(json.loads(request.body))
        return 201, {}, json.dumps({"id": bodies[-1]["id"]})

    responses.add_callback(responses.POST, f"{BASE}/api/v1/products/register", callback=register)
    serve_offers({str(product.id): [offer(42)]})
    summary = syncer(service).run_cycle(TICK)
    assert bodies == [{"id": str(product.id), "name": "Mug", "description": ""}]
    assert sync_state_of(product).registered_at is not None
    assert summary.products_registered == 1
    assert [price for _, price, _ in mirrored(product)] == [42]


@responses.activate
def test_failed_registration_backs_off(service):
    product = make_product("Mug")
    responses.post(f"{BASE}/api/v1/products/register", status=503)
    summary = syncer(service).run_cycle(TICK)
    state = sync_state_of(product)
    assert summary.registrations_failed == 1
    assert state.registered_at is None
    assert state.registration_attempts == 1
    assert state.next_registration_at > timezone.now()
    assert "registration failed" in state.last_sync_error
    # Not due yet: the next cycle does not try again.
    syncer(service).run_cycle(TICK + timedelta(seconds=30))
    assert len(responses.calls) == 2  # the two attempts of the first cycle only


@responses.activate
def test_two_workers_on_one_tick_never_fetch_a_product_twice(service):
    products = registered(40)
    fetched = []
    serve_offers({str(p.id): [offer()] for p in products}, fetched=fetched)
    first, second = syncer(service, "worker-1"), syncer(service, "worker-2")
    first.run_cycle(TICK)
    assert second.run_cycle(TICK).products_synced == 0
    assert sorted(fetched) == sorted(str(p.id) for p in products)
    # The next tick is a new round for everyone.
    second.run_cycle(TICK + timedelta(seconds=30))
    assert len(fetched) == 80


def test_claims_are_exclusive_per_tick():
    products = registered(10)
    mine = products_claim_for_tick(tick=TICK, worker="a", limit=6)
    theirs = products_claim_for_tick(tick=TICK, worker="b", limit=10)
    assert len(mine) == 6
    assert len(theirs) == 4
    assert not set(mine) & set(theirs)
    assert set(mine) | set(theirs) == {p.id for p in products}
    assert products_claim_for_tick(tick=TICK, worker="c", limit=10) == []
    assert len(products_claim_for_tick(tick=TICK + timedelta(seconds=30), worker="c", limit=10)) == 10


def test_unregistered_products_are_not_claimed():
    ProductFactory(name="pending")
    assert products_claim_for_tick(tick=TICK, worker="a", limit=10) == []


@responses.activate
def test_no_token_aborts_before_claiming_anything():
    (product,) = registered(1)
    store_token(auth_blocked_until=timezone.now() + timedelta(minutes=5))
    client = OffersServiceClient(BASE, wait=lambda s: False)
    tokens = DatabaseTokenSource(client, "refresh", max_wait_seconds=0.1, wait=lambda s: False)
    with pytest.raises(CycleAborted, match="no access token"):
        syncer(OffersService(client=client, tokens=tokens)).run_cycle(TICK)
    assert sync_state_of(product).sync_claimed_for < TICK  # still due for the next tick


@responses.activate
def test_stop_requested_abandons_unstarted_work_and_keeps_the_cache(service):
    products = registered(30)
    stop = threading.Event()
    fetched = []

    def callback(request):
        fetched.append(1)
        stop.set()  # SIGTERM arrives while the first fetches are in flight
        return 200, {}, json.dumps([offer()])

    responses.add_callback(responses.GET, OFFERS, callback=callback)
    summary = syncer(service, stop=stop).run_cycle(TICK)
    assert summary.stopped_early
    assert summary.products_synced == len(fetched) < len(products)
    assert SyncStatus.objects.get().last_cycle_finished_at is None  # not a completed cycle
    synced = ProductSyncState.objects.filter(offers_synced_at__isnull=False).values_list("product_id", flat=True)
    assert all(Offer.objects.filter(product_id=p).count() == 1 for p in synced)


class ExplodingService:
    """Wraps a real service; one product's fetch or registration raises what nobody foresaw."""

    def __init__(self, service, product_id, error: Exception | None = None):
        self.service, self.product_id, self.error = service, product_id, error or RuntimeError("boom")
        self.tokens = service.tokens

    def get_offers(self, product_id):
        if product_id == self.product_id:
            raise self.error
        return self.service.get_offers(product_id)

    def register(self, *, product_id, name, description):
        if product_id == self.product_id:
            raise self.error
        return self.service.register(product_id=product_id, name=name, description=description)


@responses.activate
@pytest.mark.parametrize("error", [RuntimeError("boom"), RecursionError(), KeyError("id"), MemoryError()])
def test_an_unforeseen_error_costs_only_that_product(service, caplog, error):
    broken, healthy = registered(2)
    upstream = {str(broken.id): [offer(1)], str(healthy.id): [offer(3)]}
    serve_offers(upstream)
    syncer(service).run_cycle(TICK)
    before = mirrored(broken)
    upstream[str(healthy.id)] = [offer(4)]
    summary = syncer(ExplodingService(service, broken.id, error)).run_cycle(TICK + timedelta(seconds=30))
    assert (summary.products_synced, summary.products_failed) == (1, 1)
    assert mirrored(broken) == before
    assert mirrored(healthy) == expected(upstream[str(healthy.id)])
    assert sync_state_of(broken).last_sync_error == f"unexpected failure ({type(error).__name__}); see the worker log"
    assert [r.exc_info is not None for r in caplog.records if str(broken.id) in r.getMessage()] == [True]


@responses.activate
def test_an_answer_listing_another_products_offer_id_fails_only_that_product(service):
    holder, hostile, healthy = registered(3)
    shared = offer(5)
    upstream = {str(holder.id): [shared], str(hostile.id): [offer(1)], str(healthy.id): [offer(2)]}
    serve_offers(upstream)
    syncer(service).run_cycle(TICK)
    before = {p.id: mirrored(p) for p in (holder, hostile)}
    upstream[str(hostile.id)] = [offer(1), shared]
    upstream[str(healthy.id)] = [offer(7)]
    summary = syncer(service).run_cycle(TICK + timedelta(seconds=30))
    assert {p.id: mirrored(p) for p in (holder, hostile)} == before
    assert mirrored(healthy) == expected(upstream[str(healthy.id)])
    assert (summary.products_synced, summary.products_failed) == (2, 1)
    assert "another product" in sync_state_of(hostile).last_sync_error


def test_an_unforeseen_registration_error_costs_only_that_registration(service):
    broken, fine = make_product("broken"), make_product("fine")
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/api/v1/products/register", status=201, json={"id": str(fine.id)})
        mock.get(OFFERS, json=[])
        summary = syncer(ExplodingService(service, broken.id)).run_cycle(TICK)
    assert (summary.products_registered, summary.registrations_failed) == (1, 1)
    assert sync_state_of(broken).registered_at is None
    assert "unexpected failure (RuntimeError)" in sync_state_of(broken).last_sync_error
    assert sync_state_of(fine).registered_at is not None
