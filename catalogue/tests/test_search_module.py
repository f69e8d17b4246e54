"""catalogue.search: the same rows as `name__icontains`, whichever words the names share."""

import pytest
from django.db import connection
from django.db.models import Q

from catalogue.models import Product
from catalogue.search import forget_name_sample, name_contains_all

pytestmark = pytest.mark.django_db
ON_POSTGRESQL = connection.vendor == "postgresql"

THINGS = ["kettle", "mug", "lamp", "teapot", "crème brûlée torch", "чайник", "Straße map", "100% cotton bag"]
# Two names of 402 with pieces no other has: rare enough for the short parts' index.
RARE = ["Øx 7q #1 ǆ ŉ, product", "x-1 a_b 5% ß, product"]


@pytest.fixture
def catalogue():
    """Names that all say "product", as in catalogues where every name repeats a word."""
    Product.objects.bulk_create(
        Product(name=f"{['Red', 'Blue'][n % 2]} {THINGS[n % len(THINGS)]}, product {n:05d}") for n in range(400)
    )
    Product.objects.bulk_create(Product(name=name) for name in RARE)
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE catalogue_product")  # the sample the search judges words on
    forget_name_sample()
    yield
    forget_name_sample()


TERMS = [
    "product 00123",
    "duct 0012",
    "PRODUCT",
    "red",
    "Red kettle",
    "blue mug, product",
    "t 003",
    "ÉE TORCH, PRODUCT",
    "чайник, product 0000",
    "aße map",
    "0% cotton bag, pro",
    "% cotton",
    "_",
    "product 99999",
    "zzzz",
    ", p",
]
# Too short for a trigram, or only common words beside short ones: common, rare, absent, not
# ASCII, mixed case, LIKE's wildcards, letters whose upper case is more than one character.
SHORT_TERMS = [
    "e",
    "ke",
    "Ke",
    "RE",
    "é",
    "ÉE",
    "d k",
    "7q",
    "7Q",
    "q",
    "#",
    "øx",
    "ØX",
    "ǆ",
    "ǅ",
    "ŉ",
    "ß",
    "SS",
    "%",
    "5%",
    "_",
    "a_",
    "x-1",
    "7q #",
    "product 7q",
    "1 ǆ ŉ, product",
    "zq",
    "ZZ",
    "ж",
    "a b",
    "__",
    "%%",
]


@pytest.mark.parametrize("term", TERMS + SHORT_TERMS)
def test_same_rows_as_a_plain_substring_match(catalogue, term):
    expected = list(Product.objects.filter(name__icontains=term).order_by("created_at", "id").values_list("id"))
    found = list(name_contains_all(Product.objects.all(), [term]).order_by("created_at", "id").values_list("id"))
    assert found == expected


def test_every_part_must_match(catalogue):
    parts = ["product 0001", "kettle"]
    expected = set(Product.objects.filter(name__icontains="product 0001").filter(name__icontains="kettle"))
    assert set(name_contains_all(Product.objects.all(), parts)) == expected
    assert expected


@pytest.mark.skipif(not ON_POSTGRESQL, reason="the trigram index is PostgreSQL's")
def test_a_word_most_names_share_is_checked_on_the_rows_the_others_find(catalogue):
    sql = str(name_contains_all(Product.objects.all(), ["duct 00123"]).query)
    assert "%00123%" in sql and "%duct 00123%" not in sql
    assert "STRPOS" in sql
    # The admin's words one by one: the common one is checked, not looked up.
    sql = str(name_contains_all(Product.objects.all(), ["duct", "00123"]).query)
    assert "%00123%" in sql and "%duct%" not in sql
    # Nothing but common words: a plain LIKE, which the planner knows matches most names.
    assert "STRPOS" not in str(name_contains_all(Product.objects.all(), ["product"]).query)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="the pieces' index is PostgreSQL's")
@pytest.mark.parametrize(
    ("parts", "by_pieces"),
    [
        (["7q"], True),
        (["ØX"], True),
        (["#"], True),
        (["zq"], True),
        (["a b"], True),
        (["product 7q"], True),  # its one word is in every name
        (["ke"], False),  # in a quarter of the names: the list's index meets a page soon
        (["e"], False),
        (["product 0012"], False),  # trigrams of its rarer word
        (["ke", "7q"], True),
    ],
)
def test_rare_short_parts_are_looked_up_by_their_pieces(catalogue, parts, by_pieces):
    sql = str(name_contains_all(Product.objects.all(), parts).query)
    assert ("catalogue_name_grams" in sql) is by_pieces
    assert set(name_contains_all(Product.objects.all(), parts)) == set(
        Product.objects.filter(*[Q(name__icontains=part) for part in parts])
    )
