"""Hostile requests: each gets a 4xx in JSON and changes nothing.

Huge and deeply nested bodies, wrong types, NUL characters, lone surrogates and invalid UTF-8,
control and bidirectional-override characters, invisible-only names, non-JSON content types,
path-traversal-looking ids and very long or odd query strings. The requests go through Django's
whole stack (middleware included) with exceptions turned into responses, as in production.
"""

import base64
import json
import uuid

import pytest
from django.test import Client

from aggregator.tests.factories import TokenFactory
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from offers_sync.models import Offer
from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


@pytest.fixture
def token(api_user) -> str:
    return TokenFactory(user=api_user).key


@pytest.fixture
def client(token) -> Client:
    """An authenticated client that answers like production: a crash is a 500, not an exception."""
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


@pytest.fixture
def existing(db) -> Product:
    product = ProductFactory(name="Kettle", description="1.7 l")
    OfferFactory(product=product, price=1999, items_in_stock=3)
    return product


def snapshot() -> tuple:
    return (
        list(Product.objects.order_by("id").values_list("id", "name", "description", "updated_at")),
        list(Offer.objects.order_by("id").values_list("id", "product_id", "price", "items_in_stock")),
    )


def assert_refused(response, status: int | None = None):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert isinstance(body, dict) and body


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BAD_BODIES = {
    # size and shape
    "over 1 MiB": (json.dumps({"name": "big", "description": "x" * (2 * MiB)}), 413),
    "1 MiB of keys": ("{" + ",".join(f'"k{i}": 0' for i in range(100_000)) + ', "name": "x"}', 413),
    "nested 100,000 deep": ('{"name": ' + nested(100_000) + "}", 400),
    "objects nested 50,000 deep": ('{"a":' * 50_000 + "1" + "}" * 50_000, 400),
    "nested 500 deep": ('{"name": ' + nested(500) + "}", 400),
    "truncated": ('{"name": "Mug"', 400),
    "whitespace only": ("   ", 400),
    "5,000-digit number": ('{"name": "x", "n": ' + "9" * 5000 + "}", 400),
    "NaN": ('{"name": NaN}', 400),
    "Infinity": ('{"name": "x", "description": Infinity}', 400),
    # wrong types
    "array body": ('[{"name": "Mug"}]', 400),
    "string body": ('"Mug"', 400),
    "number body": ("42", 400),
    "null body": ("null", 400),
    "name number": ('{"name": 42}', 400),
    "name bool": ('{"name": true}', 400),
    "name null": ('{"name": null}', 400),
    "name list": ('{"name": ["Mug"]}', 400),
    "name object": ('{"name": {"en": "Mug"}}', 400),
    "description number": ('{"name": "Mug", "description": 5}', 400),
    "description list": ('{"name": "Mug", "description": ["a"]}', 400),
    # characters no name should hold
    "NUL in name": ('{"name": "Mu\\u0000g"}', 400),
    "NUL in description": ('{"name": "Mug", "description": "a\\u0000b"}', 400),
    "lone high surrogate": ('{"name": "\\ud800"}', 400),
    "lone low surrogate in description": ('{"name": "Mug", "description": "x\\udfff"}', 400),
    "bell character": ('{"name": "Mug\\u0007"}', 400),
    "escape sequence": ('{"name": "\\u001b[31mred"}', 400),
    "C1 control": ('{"name": "Mu\\u0085g"}', 400),
    "newline in name": ('{"name": "Mug\\nSecond line"}', 400),
    "right-to-left override": ('{"name": "invoice\\u202egpj.exe"}', 400),
    "bidi isolate": ('{"name": "a\\u2066b"}', 400),
    "zero-width space only": ('{"name": "\\u200b"}', 400),
    "zero-width joiners and spaces only": ('{"name": " \\u200d\\u200c \\ufeff "}', 400),
    "ideographic spaces only": ('{"name": "\\u3000\\u3000"}', 400),
    "vertical tab in description": ('{"name": "Mug", "description": "a\\u000bb"}', 400),
    # bytes that are not UTF-8 JSON
    "invalid UTF-8": (b'{"name": "\xff\xfe"}', 400),
    "surrogate as raw bytes (CESU-8)": (b'{"name": "\xed\xa0\x80"}', 400),
    "overlong UTF-8 slash": (b'{"name": "\xc0\xaf"}', 400),
    "UTF-16 body": ('{"name": "Mug"}'.encode("utf-16"), 400),
    "byte-order mark": (b'\xef\xbb\xbf{"name": "Mug"}', 400),
    "raw NUL byte": (b'{"name": "Mu\x00g"}', 400),
}

WRONG_CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/jsonp",
    "",
]


def write(client: Client, method: str, path: str, body, content_type: str):
    return getattr(client, method)(path, data=body, content_type=content_type)


WRITE_TARGETS = [("post", None), ("put", "existing"), ("patch", "existing")]


def target_path(which, product: Product) -> str:
    return "/products" if which is None else f"/products/{product.id}"


@pytest.mark.parametrize(("method", "which"), WRITE_TARGETS)
@pytest.mark.parametrize("case", BAD_BODIES, ids=str)
def test_bad_bodies_are_refused_and_change_nothing(client, existing, method, which, case):
    body, status = BAD_BODIES[case]
    before = snapshot()
    assert_refused(write(client, method, target_path(which, existing), body, "application/json"), status)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["post", "put"])
def test_an_empty_body_is_400_where_a_name_is_required(client, existing, method):
    before = snapshot()
    which = None if method == "post" else "existing"
    assert_refused(write(client, method, target_path(which, existing), "", "application/json"), 400)
    assert snapshot() == before


@pytest.mark.parametrize(("method", "which"), WRITE_TARGETS)
@pytest.mark.parametrize("content_type", WRONG_CONTENT_TYPES)
def test_bodies_that_are_not_json_are_415(client, existing, method, which, content_type):
    before = snapshot()
    response = write(client, method, target_path(which, existing), "name=Mug", content_type)
    assert_refused(response, 415)
    assert snapshot() == before


TRAVERSAL_IDS = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "..",
    "....%2F%2F....%2F%2Fetc",
    "%252e%252e%252f",
    "..%5C..%5Cwindows",
    "%ED%A0%80",
    "%C0%AF",
    "a" * 10_000,
    "00000000-0000-0000-0000-000000000000",
    "{id}%2F..%2F{id}",
]


@pytest.mark.parametrize("raw_id", TRAVERSAL_IDS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_path_traversal_looking_ids_are_404(client, existing, raw_id, method):
    before = snapshot()
    path = "/products/" + raw_id.format(id=existing.id)
    if method == "get":
        response = client.get(path)
    else:
        response = getattr(client, method)(path, data='{"name": "x"}', content_type="application/json")
    assert_refused(response, 404)
    assert getattr(client, method)(path + "/offers").status_code in {404, 405}
    assert snapshot() == before


@pytest.mark.parametrize("path", ["/products/%00", "/products/{id}%00", "/products/{id}/offers%00"])
def test_nul_in_the_path_is_400(client, existing, path):
    before = snapshot()
    assert_refused(client.get(path.format(id=existing.id)), 400)
    assert_refused(client.delete(path.format(id=existing.id)), 400)
    assert snapshot() == before


BAD_QUERIES = {
    "search over the name length": "search=" + "x" * 256,
    "search of 100,000 characters": "search=" + "x" * 100_000,
    "NUL in search": "search=Ket%00tle",
    "NUL in cursor": "cursor=%00",
    "cursor of 100,000 characters": "cursor=" + "A" * 100_000,
    "cursor of valid base64 but not a position": "cursor=eyJhIjogMX0",
    "superscript digit limit": "limit=%C2%B2",
    "Arabic-Indic digits limit": "limit=%D9%A1%D9%A2",
    "exponent limit": "limit=1e3",
    "huge limit": "limit=" + "9" * 50,
    "negative limit": "limit=-5",
    "5,000 parameters": "&".join(f"p{i}=1" for i in range(5000)),
}


@pytest.mark.parametrize("case", BAD_QUERIES, ids=str)
def test_bad_query_strings_are_400(client, existing, case):
    before = snapshot()
    assert_refused(client.get("/products?" + BAD_QUERIES[case]), 400)
    assert snapshot() == before


def test_like_wildcards_in_search_are_literal(client, existing):
    assert json.loads(client.get("/products?search=%25").content) == []
    assert json.loads(client.get("/products?search=_").content) == []
    assert [p["name"] for p in json.loads(client.get("/products?search=KETT").content)] == ["Kettle"]


BAD_HEADERS = {
    "token of 10,000 characters": {"HTTP_AUTHORIZATION": "Token " + "x" * 10_000},
    "token with spaces": {"HTTP_AUTHORIZATION": "Token a b"},
    "token with a NUL": {"HTTP_AUTHORIZATION": "Token abc\x00def"},
    "unknown scheme": {"HTTP_AUTHORIZATION": "Bearer abc"},
    "scheme only": {"HTTP_AUTHORIZATION": "Token"},
    "NUL in another header": {"HTTP_X_REQUEST_ID": "a\x00b"},
    "NUL in a cookie": {"HTTP_COOKIE": "sessionid=abcdefgh\x00; csrftoken=x"},
    "host not allowed": {"HTTP_HOST": "evil.example.com"},
    "host with a NUL": {"HTTP_HOST": "localhost\x00.evil"},
}


@pytest.mark.parametrize("case", BAD_HEADERS, ids=str)
def test_bad_headers_on_a_write_are_refused(existing, case):
    client = Client(raise_request_exception=False)
    before = snapshot()
    response = client.post("/products", data='{"name": "Mug"}', content_type="application/json", **BAD_HEADERS[case])
    assert_refused(response)
    assert snapshot() == before


@pytest.mark.parametrize(
    "name",
    [
        "Чайник",
        "غلاية كهربائية",
        "קומקום",
        "電気ケトル",
        "Kettle ☕",
        "👩‍👩‍👧 family pack",
        "🇬🇧 flag",
        "Cafe\u0301",
        "Kettle\u200d",
        "𝕂𝕖𝕥𝕥𝕝𝕖",
        "😀" * 255,
    ],
)
def test_names_in_any_script_and_emoji_are_kept_exactly(client, name):
    response = client.post("/products", data=json.dumps({"name": name}), content_type="application/json")
    assert response.status_code == 201, response.content
    product_id = json.loads(response.content)["id"]
    assert json.loads(client.get(f"/products/{product_id}").content)["name"] == name
    assert Product.objects.get(pk=product_id).name == name


def test_description_keeps_line_breaks_and_tabs(client):
    description = "Line one\nLine two\r\n\tindented"
    response = client.post(
        "/products", data=json.dumps({"name": "Mug", "description": description}), content_type="application/json"
    )
    assert response.status_code == 201
    assert json.loads(response.content)["description"] == description


def test_surrounding_whitespace_of_any_kind_is_trimmed(client):
    response = client.post("/products", data=json.dumps({"name": "\t Mug\u3000\n"}), content_type="application/json")
    assert response.status_code == 201
    assert json.loads(response.content)["name"] == "Mug"


def cursor_of(value) -> str:
    """A cursor holding `value`, encoded as the API encodes its own (JSON in unpadded URL-safe base64)."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


MOMENT = "2025-03-01T00:00:00+00:00"
UUID = "49c03251-e6f5-415e-b3b7-6bf187dbfad8"

# Refused on every paged endpoint, whichever id type it pages by.
BAD_CURSORS = {
    "nested JSON in 1,300 characters": cursor_of(b"[" * 975),
    "nested objects in 1,300 characters": cursor_of(b'{"a":' * 195),
    "nested JSON just within the length limit": cursor_of(b"[" * 190),
    "100,000 characters": "A" * 100_000,
    "257 characters of base64": "A" * 257,
    "one character": "A",
    "not base64": "!!!***",
    "non-ASCII": "%C3%A9t%C3%A9",
    "base64 of bytes that are not UTF-8": cursor_of(b"\xff\xfe\xfd"),
    "base64 of something that is not JSON": cursor_of(b"not json"),
    "an object": cursor_of({MOMENT: UUID}),
    "a two-character string": cursor_of("ab"),
    "a number": cursor_of(42),
    "null": cursor_of(None),
    "an empty list": cursor_of([]),
    "three items": cursor_of([MOMENT, UUID, UUID]),
    "numbers": cursor_of([1, 2]),
    "nulls": cursor_of([None, None]),
    "booleans": cursor_of([True, False]),
    "a list for the moment": cursor_of([[MOMENT], UUID]),
    "NaN for the moment": cursor_of(b'[NaN, "1"]'),
    "a number for the id": cursor_of([MOMENT, 5]),
    "an unparseable moment": cursor_of(["yesterday", UUID]),
    "a moment without an offset": cursor_of(["2025-03-01T00:00:00", UUID]),
    "year 0": cursor_of(["0000-01-01T00:00:00+00:00", UUID]),
    "year 10000": cursor_of(["10000-01-01T00:00:00+00:00", UUID]),
    "year 1 ahead of UTC (before the calendar in UTC)": cursor_of(["0001-01-01T00:00:00+14:00", UUID]),
    "year 9999 behind UTC (after the calendar in UTC)": cursor_of(["9999-12-31T23:59:59.999999-14:00", UUID]),
    "an offset of a day": cursor_of(["2025-03-01T00:00:00+24:00", UUID]),
    "an empty id": cursor_of([MOMENT, ""]),
    "an id of 1,000 digits": cursor_of([MOMENT, "9" * 1000]),
    "an id of 5,000 digits": cursor_of([MOMENT, "9" * 5000]),
    "an id past 64 bits": cursor_of([MOMENT, str(2**63)]),
    "a negative id": cursor_of([MOMENT, "-1"]),
    "an id with a NUL": cursor_of([MOMENT, "1\u0000"]),
    "an id with a lone surrogate": cursor_of(b'["2025-03-01T00:00:00+00:00", "\\ud800"]'),
}


def paged_paths(product: Product) -> dict[str, str]:
    """Every keyset-paged list of the API."""
    return {"products": "/products", "history": f"/products/{product.id}/offers/history"}


@pytest.mark.parametrize("endpoint", ["products", "history"])
@pytest.mark.parametrize("case", BAD_CURSORS, ids=str)
def test_bad_cursors_are_400_on_every_paged_endpoint(client, existing, endpoint, case):
    before = snapshot()
    response = client.get(paged_paths(existing)[endpoint] + "?cursor=" + BAD_CURSORS[case])
    assert_refused(response, 400)
    assert json.loads(response.content) == {"cursor": ["Invalid cursor."]}
    assert snapshot() == before


# Cursors well formed for one endpoint: the other's id type makes them foreign there, and the
# edges of the calendar are positions like any other (the same answer on SQLite and PostgreSQL).
EDGE_MOMENTS = ["0001-01-01T00:00:00+00:00", "0001-01-01T12:00:00+11:00", "9999-12-31T23:59:59.999999+00:00"]


@pytest.mark.parametrize("moment", EDGE_MOMENTS)
def test_cursors_at_the_edges_of_the_calendar_are_positions(client, existing, moment):
    first = json.loads(client.get(f"/products?cursor={cursor_of([moment, str(uuid.UUID(int=0))])}").content)
    beyond = json.loads(client.get(f"/products?cursor={cursor_of([moment, str(uuid.UUID(int=2**128 - 1))])}").content)
    expected = [str(existing.id)] if moment.startswith("0001") else []
    assert [row["id"] for row in first] == expected
    assert [row["id"] for row in beyond] == expected
    history = client.get(f"/products/{existing.id}/offers/history?cursor={cursor_of([moment, '0'])}")
    assert history.status_code == 200 and json.loads(history.content) == []
    history = client.get(f"/products/{existing.id}/offers/history?cursor={cursor_of([moment, str(2**63 - 1)])}")
    assert history.status_code == 200 and json.loads(history.content) == []


def test_a_cursor_of_one_endpoint_is_400_on_the_other(client, existing):
    product_cursor = cursor_of([MOMENT, str(existing.id)])
    event_cursor = cursor_of([MOMENT, "41"])
    assert client.get(f"/products?cursor={product_cursor}").status_code == 200
    assert client.get(f"/products/{existing.id}/offers/history?cursor={event_cursor}").status_code == 200
    assert_refused(client.get(f"/products?cursor={event_cursor}"), 400)
    assert_refused(client.get(f"/products/{existing.id}/offers/history?cursor={product_cursor}"), 400)


# Date bounds of the history and trend endpoints: refused outside 1970 to 9998, in any spelling,
# before any arithmetic or query could leave the calendar.
OUT_OF_RANGE_BOUNDS = [
    "0001-01-01",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00%2B14:00",
    "0001-01-01T00:00:00-14:00",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00%2B00:01",
    "9999-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59.999999-14:00",
    "9998-12-31T23:59:59-14:00",
    "0000-01-01",
    "10000-01-01",
    "2025-03-01T00:00:00%2B24:00",
    "2025-02-30",
    "2025-03-01T25:00:00Z",
    "9" * 1000,
]
IN_RANGE_BOUNDS = [
    "1970-01-01",
    "1970-01-01T00:00:00Z",
    "1970-01-01T00:00:00-14:00",
    "9998-12-31",
    "9998-12-31T23:59:59.999999Z",
]


@pytest.mark.parametrize("endpoint", ["offers/history", "price-trend"])
@pytest.mark.parametrize("bound", ["since", "until"])
@pytest.mark.parametrize("value", OUT_OF_RANGE_BOUNDS)
def test_date_bounds_outside_the_calendar_are_400(client, existing, endpoint, bound, value):
    response = client.get(f"/products/{existing.id}/{endpoint}?{bound}={value}")
    assert_refused(response, 400)
    assert list(json.loads(response.content)) == [bound]


@pytest.mark.parametrize("endpoint", ["offers/history", "price-trend"])
@pytest.mark.parametrize("bound", ["since", "until"])
@pytest.mark.parametrize("value", IN_RANGE_BOUNDS)
def test_date_bounds_at_the_ends_of_the_range_are_answered(client, existing, endpoint, bound, value):
    query = f"{bound}={value}"
    if endpoint == "price-trend" and bound == "since":
        query += "&until=9998-12-31"  # by default until is now, and since must not be after it
    response = client.get(f"/products/{existing.id}/{endpoint}?{query}")
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize("interval", ["hour", "day"])
@pytest.mark.parametrize(("since", "until"), [("1970-01-01", "1970-01-02"), ("9998-12-30", "9998-12-31")])
def test_sampled_trends_at_the_ends_of_the_range_are_answered(client, existing, interval, since, until):
    response = client.get(f"/products/{existing.id}/price-trend?since={since}&until={until}&interval={interval}")
    assert response.status_code == 200, response.content[:300]
    assert json.loads(response.content)["points"]
