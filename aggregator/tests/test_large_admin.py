"""The admin's lists of products, offers and price events, as an admin pages and searches them.

These tables hold millions of rows in production: the lists must never count a whole table or
page with a deep OFFSET (aggregator/large_admin.py). The tests shrink a page to two rows and the
pages offered to three, and check what the admin sees and which queries ran.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aggregator.money import format_money
from catalogue.admin import ProductAdmin
from catalogue.models import Product
from offers_sync.admin import OfferAdmin
from offers_sync.models import Offer
from price_history.admin import PriceEventAdmin
from price_history.models import PriceEvent

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/catalogue/product/"
OFFERS = "/admin/offers_sync/offer/"
EVENTS = "/admin/price_history/priceevent/"


ON_POSTGRESQL = connection.vendor == "postgresql"


def analyze(model, made: list | None = None) -> list | None:
    """Bring PostgreSQL's size estimate of `model`'s table up to date, as autovacuum does for a table
    that grew; returns `made` (the rows a fixture just added) for the fixture to return."""
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return made


def whole_table(rows: int, name: str) -> str:
    """How the unfiltered list names its size: an estimate on PostgreSQL, a bounded count elsewhere."""
    return f"about {rows} {name}" if ON_POSTGRESQL else f"more than 6 {name}"


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    for model_admin in (ProductAdmin, OfferAdmin, PriceEventAdmin):
        monkeypatch.setattr(model_admin, "list_per_page", 2)
        monkeypatch.setattr(model_admin, "max_pages", 3)
        monkeypatch.setattr(model_admin, "max_pages_filtered", 3)


@pytest.fixture
def products(db) -> list[Product]:
    """Ten products, newest first (the admin's order): "Mug 9", "Kettle 8" … "Mug 0", every third a mug."""
    start = timezone.now() - timedelta(days=1)
    made = Product.objects.bulk_create(Product(name=f"{'Mug' if n % 3 == 0 else 'Kettle'} {n}") for n in range(10))
    for n, product in enumerate(made):
        Product.objects.filter(pk=product.pk).update(created_at=start + timedelta(minutes=n))
    return analyze(Product, list(reversed(made)))


PRICE_CELL = r'<td class="field-price_shown">([^<]*)</td>'
FIRST_CELL = re.compile(r'<tr>\s*<td class="action-checkbox">.*?<t[hd] class="field-[^"]+">(?:<a [^>]*>)?([^<]*)', re.S)


def listed(response, model_admin) -> list[str]:
    """The first column of each row of the change list, as shown."""
    assert response.status_code == 200
    return FIRST_CELL.findall(response.content.decode())


def get(admin_client, url):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    return response, [q["sql"] for q in queries.captured_queries]


def counts(sql: list[str]) -> list[str]:
    # Not the product list's offers per product, counted for the page's products only.
    return [q for q in sql if "COUNT(" in q.upper() and '"product_id" IN (' not in q]


def assert_no_unbounded_count(sql: list[str]) -> None:
    for query in counts(sql):
        assert re.search(r"LIMIT \d+\)", query), f"a count of a whole table or result: {query}"


class TestProductList:
    def test_pages_newest_first_without_counting_the_table(self, admin_client, products):
        response, sql = get(admin_client, PRODUCTS)
        assert listed(response, ProductAdmin) == ["Mug 9", "Kettle 8"]
        assert_no_unbounded_count(sql)
        html = response.content.decode()
        assert whole_table(10, "products") in html
        assert "Only the first 3 pages are offered" in html
        assert re.findall(r'href="\?p=(\d+)"', html) == ["2", "3"]

        response, sql = get(admin_client, PRODUCTS + "?p=2")
        assert listed(response, ProductAdmin) == ["Kettle 7", "Mug 6"]
        assert_no_unbounded_count(sql)

    def test_a_page_past_those_offered_is_refused(self, admin_client, products):
        response = admin_client.get(PRODUCTS + "?p=4")
        assert response.status_code == 302 and "e=1" in response["Location"]

    def test_a_small_table_is_counted_exactly(self, admin_client, products):
        Product.objects.filter(name__in=["Kettle 1", "Kettle 2", "Kettle 4", "Kettle 5", "Kettle 7"]).delete()
        analyze(Product)
        html = admin_client.get(PRODUCTS).content.decode()
        assert "5 products" in html
        assert "Only the first" not in html
        assert re.findall(r'href="\?p=(\d+)"', html) == ["2", "3"]

    @pytest.mark.skipif(not ON_POSTGRESQL, reason="PostgreSQL keeps table size estimates")
    def test_the_whole_table_is_an_estimate_and_no_count_at_all(self, admin_client, products):
        response, sql = get(admin_client, PRODUCTS + "?p=3")
        assert listed(response, ProductAdmin) == ["Kettle 5", "Kettle 4"]
        assert counts(sql) == []
        assert "about 10 products" in response.content.decode()

    def test_search_any_part_of_the_name_in_any_case(self, admin_client, products):
        response, sql = get(admin_client, PRODUCTS + "?q=ETTLE")
        assert listed(response, ProductAdmin) == ["Kettle 8", "Kettle 7"]
        assert_no_unbounded_count(sql)
        assert "6 products" in response.content.decode()
        response = admin_client.get(PRODUCTS + "?q=mug")
        assert listed(response, ProductAdmin) == ["Mug 9", "Mug 6"]
        assert "4 products" in response.content.decode()

    def test_a_search_is_counted_and_paged_to_fewer_pages_than_the_list(self, admin_client, products, monkeypatch):
        monkeypatch.setattr(ProductAdmin, "max_pages_filtered", 2)
        response, sql = get(admin_client, PRODUCTS + "?q=ETTLE")  # 6 matches, 2 a page
        html = response.content.decode()
        assert "more than 4 products" in html
        assert "Only the first 2 pages are offered" in html
        assert re.findall(r"[?;]p=(\d+)", html) == ["2"]  # page links: 1 (this one) and 2
        assert all("LIMIT 5)" in q for q in counts(sql))
        assert admin_client.get(PRODUCTS + "?q=ETTLE&p=3").status_code == 302
        assert admin_client.get(PRODUCTS + "?p=3").status_code == 200  # the whole list still has 3
        # The search box sent empty is the whole list, as is the list in a popup.
        for unfiltered in ("?q=&p=3", "?q=+&p=3", "?_popup=1&p=3"):
            response = admin_client.get(PRODUCTS + unfiltered)
            assert response.status_code == 200, unfiltered
            assert whole_table(10, "products") in response.content.decode()

    def test_query_count_is_pinned(self, admin_client, products):
        admin_client.get(PRODUCTS)  # the session and user are loaded; the rest is the list
        _, first = get(admin_client, PRODUCTS)
        _, later = get(admin_client, PRODUCTS + "?p=3")
        # session, user, the estimate (PostgreSQL) or the bounded count, the page, the page's sync
        # states, the page's offer counts and best prices
        assert len(first) == len(later) == 6
        # The sync states by the page's ids, not joined: a join is made for every row an OFFSET skips.
        assert not [q for q in later if "JOIN" in q and "offers_sync_productsyncstate" in q]

    def test_only_indexed_columns_sort(self, admin_client, products):
        html = admin_client.get(PRODUCTS).content.decode()
        sortable = re.findall(r'<th scope="col" class="sortable[^"]*column-([a-z_]+)', html)
        assert sortable == ["created"]
        response = admin_client.get(PRODUCTS + "?o=6")  # created, oldest first
        assert listed(response, ProductAdmin) == ["Mug 0", "Kettle 1"]


@pytest.fixture
def offers(products) -> list[Offer]:
    made = Offer.objects.bulk_create(
        Offer(id=uuid.uuid4(), product=product, price=100 * (k + 1), items_in_stock=k)
        for product in products[:4]
        for k in range(2)
    )
    return analyze(Offer, made)


class TestOfferList:
    def test_pages_a_products_offers_together_cheapest_first(self, admin_client, offers):
        response, sql = get(admin_client, OFFERS)
        assert_no_unbounded_count(sql)
        rows = re.findall(PRICE_CELL, response.content.decode())
        assert rows == ["€1.00", "€2.00"]
        assert whole_table(8, "offers") in response.content.decode()
        assert admin_client.get(OFFERS + "?p=3").status_code == 200

    def test_search_by_offer_id_product_id_or_name(self, admin_client, products, offers):
        offer = offers[3]
        assert str(offer.id) in admin_client.get(OFFERS + f"?q={offer.id}").content.decode()
        html = admin_client.get(OFFERS + f"?q={offer.product_id}").content.decode()
        assert "2 offers" in html
        html = admin_client.get(OFFERS + "?q=MUG 9").content.decode()
        assert "2 offers" in html and "Mug 9" in html
        assert "0 offers" in admin_client.get(OFFERS + "?q=nothing like it").content.decode()

    @pytest.mark.parametrize("by_id", [True, False], ids=["few products: by their ids", "many: joined"])
    def test_a_name_search_shows_the_offers_of_every_product_so_named(self, admin_client, offers, monkeypatch, by_id):
        monkeypatch.setattr("offers_sync.admin.MAX_PRODUCTS_BY_ID", 100 if by_id else 1)
        # Kettles 8 and 7 have offers (two each); the other kettles have none yet.
        response = admin_client.get(OFFERS + "?q=kettle&p=2")
        html = response.content.decode()
        assert "4 offers" in html
        rows = re.findall(PRICE_CELL, html)
        by_product = sorted((o.product_id, o.price) for o in offers if "Kettle" in o.product.name)
        assert rows == [format_money(price) for _, price in by_product[2:4]]


@pytest.fixture
def events(products, offers) -> list[PriceEvent]:
    now = timezone.now()
    made = PriceEvent.objects.bulk_create(
        PriceEvent(
            offer_id=offer.id,
            product_id=offer.product_id,
            kind="appeared" if n < 12 else "changed",
            price=offer.price + n,
            items_in_stock=1,
            observed_at=now - timedelta(minutes=100 - n),
        )
        for n, offer in enumerate(offers + offers)
    )
    return analyze(PriceEvent, made)


class TestPriceEventList:
    def test_pages_newest_first_and_filters(self, admin_client, events):
        response, sql = get(admin_client, EVENTS)
        assert_no_unbounded_count(sql)
        prices = re.findall(PRICE_CELL, response.content.decode())
        assert prices == [format_money(events[15].price), format_money(events[14].price)]
        assert whole_table(16, "price events") in response.content.decode()
        assert "4 price events" in admin_client.get(EVENTS + "?kind__exact=changed").content.decode()
        past_week = re.search(r'<a href="(\?observed_at__gte=[^"]+)">Past 7 days', response.content.decode()).group(1)
        response, sql = get(admin_client, EVENTS + past_week.replace("&amp;", "&"))
        assert "more than 6 price events" in response.content.decode()
        assert_no_unbounded_count(sql)

    def test_search_by_offer_product_or_name(self, admin_client, events, offers):
        offer = offers[0]
        assert "2 price events" in admin_client.get(EVENTS + f"?q={offer.id}").content.decode()
        assert "4 price events" in admin_client.get(EVENTS + f"?q={offer.product_id}").content.decode()
        assert "more than 6 price events" in admin_client.get(EVENTS + "?q=kettle").content.decode()
        # Once the offer has vanished from the mirror, its events are found through its product.
        Offer.objects.filter(pk=offer.pk).delete()
        assert "0 price events" in admin_client.get(EVENTS + f"?q={offer.id}").content.decode()
        assert "4 price events" in admin_client.get(EVENTS + f"?q={offer.product_id}").content.decode()

    @pytest.mark.parametrize("by_id", [True, False], ids=["few products: by their ids", "many: joined"])
    def test_a_name_search_shows_the_events_of_every_product_so_named(self, admin_client, events, monkeypatch, by_id):
        monkeypatch.setattr("price_history.admin.MAX_PRODUCTS_BY_ID", 100 if by_id else 1)
        html = admin_client.get(EVENTS + "?q=mug").content.decode()  # Mug 9 and Mug 6 have 8 events
        assert "more than 6 price events" in html
        newest = sorted((e for e in events if "Mug" in e.product.name), key=lambda e: e.observed_at)[::-1][:2]
        assert re.findall(PRICE_CELL, html) == [format_money(e.price) for e in newest]
        assert "0 price events" in admin_client.get(EVENTS + "?q=mug 0").content.decode()  # no offers yet

    @pytest.mark.skipif(not ON_POSTGRESQL, reason="the plan is PostgreSQL's")
    def test_a_kind_the_newest_events_lack_is_found_through_its_index(self, admin_client, events):
        # Every "appeared" event is older than every "changed" one: walked newest first, the
        # time index reads past all the changed events (millions, after a first sync) first. At
        # this size the plan is what shows it (a guard on the index's use, with seqscan off).
        response, sql = get(admin_client, EVENTS + "?kind__exact=appeared")
        prices = re.findall(PRICE_CELL, response.content.decode())
        assert prices == [format_money(events[11].price), format_money(events[10].price)]
        page = next(q for q in sql if '"price_history_priceevent"."kind" = ' in q and "COUNT(" not in q)
        with connection.cursor() as cursor:
            # A table this small would be read whole, or its time index walked and the few rows
            # sorted again, whichever earlier tests' rows left the statistics favouring.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_incremental_sort = off")
            cursor.execute(f"EXPLAIN {page}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "priceevent_kind_time_idx" in plan

    def test_a_page_is_the_same_queries_however_many_products_it_shows(self, admin_client, events):
        admin_client.get(EVENTS)
        _, sql = get(admin_client, EVENTS)
        # session, user, estimate or bounded count, the events, their products
        assert len(sql) == 5
        assert not any("JOIN" in query for query in sql)


def test_the_admin_can_act_on_the_rows_it_lists(admin_client):
    product = Product.objects.create(name='Kettle <b>"&" 1</b>')
    response = admin_client.post(PRODUCTS, {"action": "delete_selected", "_selected_action": [str(product.pk)]})
    html = response.content.decode()
    assert "Delete multiple objects" in html and "Kettle &lt;b&gt;&quot;&amp;&quot; 1&lt;/b&gt;" in html
