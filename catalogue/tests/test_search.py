"""GET /products?search=: what matches, how it pages, and that PostgreSQL can answer it from the trigram index."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from catalogue.models import Product
from catalogue.selectors import product_list

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def names(client, query: str) -> list[str]:
    response = client.get("/products", {"search": query})
    assert response.status_code == 200
    return [p["name"] for p in response.json()]


def next_link(response) -> str | None:
    header = response.headers.get("Link")
    if not header:
        return None
    return re.fullmatch(r'<([^>]+)>; rel="next"', header).group(1)


def make(*product_names: str) -> list[Product]:
    """Products created a second apart, oldest first, so the list order is the order given."""
    start = timezone.now() - timedelta(days=1)
    products = Product.objects.bulk_create(Product(name=name) for name in product_names)
    for n, product in enumerate(products):
        Product.objects.filter(pk=product.pk).update(created_at=start + timedelta(seconds=n))
    return products


class TestWhatMatches:
    def test_any_part_of_the_name_in_any_case(self, api_client):
        make("Red kettle", "Blue mug", "KETTLE lid", "Teakettle, steel", "Kettl")
        assert names(api_client, "kettle") == ["Red kettle", "KETTLE lid", "Teakettle, steel"]
        assert names(api_client, "ETTLE L") == ["KETTLE lid"]
        assert names(api_client, "e, s") == ["Teakettle, steel"]
        assert names(api_client, "mug") == ["Blue mug"]

    def test_no_match_is_an_empty_page(self, api_client):
        make("Red kettle", "Blue mug")
        response = api_client.get("/products", {"search": "zzzz"})
        assert response.json() == []
        assert "Link" not in response.headers

    @pytest.mark.parametrize("query", ["e", "ke", "d k"])
    def test_searches_shorter_than_a_trigram_match_too(self, api_client, query):
        make("Red kettle", "Blue mug", "KETTLE lid")
        assert names(api_client, query) == [n for n in ["Red kettle", "Blue mug", "KETTLE lid"] if query in n.lower()]

    def test_non_ascii_names_match_by_their_part(self, api_client):
        make("Crème brûlée torch", "Чайник электрический", "電気ケトル", "Straße map")
        assert names(api_client, "brûl") == ["Crème brûlée torch"]
        assert names(api_client, "айник") == ["Чайник электрический"]
        assert names(api_client, "ケトル") == ["電気ケトル"]
        assert names(api_client, "aße") == ["Straße map"]

    @postgres_only
    def test_non_ascii_letters_match_in_any_case_on_postgresql(self, api_client):
        # PostgreSQL upper-cases with the database's locale; SQLite's LIKE folds ASCII only.
        make("Crème brûlée torch", "Чайник электрический")
        assert names(api_client, "BRÛLÉE") == ["Crème brûlée torch"]
        assert names(api_client, "чайник") == ["Чайник электрический"]

    def test_wildcards_and_punctuation_are_literal(self, api_client):
        make("100% cotton", "100 cotton", "a_b", "ab", "(x)", "C:\\temp", "C:temp")
        assert names(api_client, "0%") == ["100% cotton"]
        assert names(api_client, "%") == ["100% cotton"]
        assert names(api_client, "_") == ["a_b"]
        assert names(api_client, "(x") == ["(x)"]
        assert names(api_client, "\\") == ["C:\\temp"]
        assert names(api_client, ":\\t") == ["C:\\temp"]

    def test_an_empty_search_is_the_whole_list(self, api_client):
        make("Red kettle", "Blue mug")
        assert names(api_client, "") == ["Red kettle", "Blue mug"]


class TestPaging:
    def test_search_pages_with_link_next_and_sees_each_match_once_while_products_are_added(
        self, auth_client, api_client
    ):
        make(*[f"{'kettle' if n % 3 else 'mug'} {n:02d}" for n in range(20)])
        expected = [f"kettle {n:02d}" for n in range(20) if n % 3]
        seen, url, pages = [], "/products?search=KETTLE&limit=4", 0
        while url:
            response = api_client.get(url)
            assert response.status_code == 200
            page = [p["name"] for p in response.json()]
            assert 0 < len(page) <= 4
            seen += page
            if pages == 1:
                # Added mid-walk: a match lands after the cursor and is seen once, the others never.
                for name in ["kettle late", "mug late"]:
                    assert auth_client.post("/products", {"name": name}, format="json").status_code == 201
                expected.append("kettle late")
            url, pages = next_link(response), pages + 1
            if url:
                assert "search=KETTLE" in url
        assert seen == expected
        assert pages == 4

    def test_a_later_search_page_is_one_query(self, api_client, django_assert_num_queries):
        make(*[f"{'kettle' if n % 2 else 'mug'} {n:02d}" for n in range(40)])
        second_page = next_link(api_client.get("/products?search=kettle&limit=10"))
        with django_assert_num_queries(1):
            response = api_client.get(second_page)
        assert [p["name"] for p in response.json()] == [f"kettle {n:02d}" for n in range(21, 40, 2)]


@postgres_only
def test_postgresql_can_answer_the_search_from_the_trigram_index():
    # The index is on UPPER(name): this breaks if the query's expression stops matching it.
    make("Red kettle", "Blue mug")
    sql, params = product_list(search="kettle").order_by("created_at", "id")[:101].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")  # not the (created_at, id) walk either
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "product_name_trgm_idx" in plan


def all_pages(client, query: str, limit: int) -> list[list[str]]:
    pages, url = [], f"/products?search={query}&limit={limit}"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append([p["name"] for p in response.json()])
        url = next_link(response)
    return pages


@pytest.mark.parametrize("query", ["product", "PRODUCT 01", "duct 012", "kettle", "e", "ke", "zebra", "zzzz", ", p"])
def test_search_pages_are_the_names_containing_it_in_list_order(api_client, query):
    # Names that all say "product", as in catalogues where every name repeats a word, and a line
    # of products added last.
    make(
        *[f"{['Red', 'Blue'][n % 2]} {['kettle', 'mug', 'lamp'][n % 3]}, product {n:03d}" for n in range(150)],
        *[f"Zebra lamp {n:02d}" for n in range(30)],
    )
    expected = list(
        Product.objects.filter(name__icontains=query).order_by("created_at", "id").values_list("name", flat=True)
    )
    pages = all_pages(api_client, query, 20)
    assert [name for page in pages for name in page] == expected
    assert all(len(page) == 20 for page in pages[:-1])
