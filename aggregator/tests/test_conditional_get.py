"""ETag and If-None-Match on the product and offers reads, as a polling consumer uses them."""

import uuid

import pytest

from catalogue.tests.factories import ProductFactory
from offers_sync.client import OfferData
from offers_sync.models import ProductSyncState
from offers_sync.reconcile import offers_reconcile
from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    product = ProductFactory(name="Kettle")
    OfferFactory(product=product, price=100, items_in_stock=1)
    OfferFactory(product=product, price=200, items_in_stock=0)
    return product


def paths(product):
    return [
        f"/products/{product.id}",
        f"/products/{product.id}/offers",
        f"/products/{product.id}/offers?in_stock=true",
        f"/products/{product.id}/offers?min_price=150",
        "/products",
        "/products?limit=1",
    ]


def test_every_read_has_an_etag_and_a_matching_if_none_match_is_304(api_client, product):
    for path in paths(product):
        first = api_client.get(path)
        assert first.status_code == 200, path
        etag = first["ETag"]
        assert etag.startswith('"') and etag.endswith('"')
        again = api_client.get(path, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304, path
        assert again.content == b""
        assert again["ETag"] == etag
        # RFC 9110 §8.6: a 304's Content-Length may only be the 200's, never a made-up 0.
        assert again.get("Content-Length") in (None, str(len(first.content)))


@pytest.mark.parametrize(
    "header",
    ['"nope", {etag}', '{etag}, "nope"', "W/{etag}", '"a",W/{etag} , "b"', "*", " * "],
    ids=["list-last", "list-first", "weak", "weak-in-list", "star", "star-spaced"],
)
def test_if_none_match_lists_weak_tags_and_star(api_client, product, header):
    path = f"/products/{product.id}/offers"
    etag = api_client.get(path)["ETag"]
    assert api_client.get(path, HTTP_IF_NONE_MATCH=header.format(etag=etag)).status_code == 304


@pytest.mark.parametrize("header", ['"other"', 'W/"other"', "garbage", '"unterminated', ",", ""])
def test_a_tag_that_does_not_match_gets_the_full_answer(api_client, product, header):
    response = api_client.get(f"/products/{product.id}/offers", HTTP_IF_NONE_MATCH=header)
    assert response.status_code == 200
    assert len(response.json()) == 2


def test_head_has_no_body(api_client, product):
    head = api_client.head(f"/products/{product.id}/offers")
    assert head.status_code == 200
    assert head.content == b""


def test_the_offers_etag_changes_exactly_when_the_offers_do(api_client, product):
    path = f"/products/{product.id}/offers"
    etag = api_client.get(path)["ETag"]
    reported = [OfferData(id=o.id, price=o.price, items_in_stock=o.items_in_stock) for o in product.offers.all()]
    offers_reconcile(product_id=product.id, reported=reported)  # a sync that finds nothing new
    ProductSyncState.objects.filter(pk=product.id).update(offers_synced_at="2030-01-01T00:00:00Z")
    assert api_client.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    reported[0] = OfferData(id=reported[0].id, price=reported[0].price - 1, items_in_stock=reported[0].items_in_stock)
    offers_reconcile(product_id=product.id, reported=reported)
    changed = api_client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_a_changed_product_or_page_gets_a_new_etag(api_client, auth_client, product):
    detail, listing = f"/products/{product.id}", "/products"
    tags = {path: api_client.get(path)["ETag"] for path in (detail, listing)}
    auth_client.patch(detail, {"description": "new"}, format="json")
    for path, etag in tags.items():
        response = api_client.get(path, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 200, path
        assert response["ETag"] != etag


def test_errors_are_never_304(api_client):
    response = api_client.get(f"/products/{uuid.uuid4()}", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert api_client.get("/products?limit=0", HTTP_IF_NONE_MATCH="*").status_code == 400


def test_if_match_on_a_read_is_checked_as_rfc_9110_says(api_client, product):
    path = f"/products/{product.id}"
    etag = api_client.get(path)["ETag"]
    assert api_client.get(path, HTTP_IF_MATCH=etag).status_code == 200
    assert api_client.get(path, HTTP_IF_MATCH='"nope"').status_code == 412
