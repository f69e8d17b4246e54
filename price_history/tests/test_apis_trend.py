"""GET /products/{id}/price-trend: best and average in-stock price at both ends of a period, and between."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.serializers import Serializer

from price_history.selectors import PriceSnapshot
from price_history.serializers import PriceSnapshotSerializer
from price_history.tests.conftest import T0

pytestmark = pytest.mark.django_db

SINCE = T0 + timedelta(days=1)  # 2025-03-02T00:00:00Z
UNTIL = T0 + timedelta(days=11)  # 2025-03-12T00:00:00Z


def _trend(api_client, product, **params):
    params = {"since": "2025-03-02T00:00:00Z", "until": "2025-03-12T00:00:00Z", **params}
    query = "&".join(f"{key}={value}" for key, value in params.items() if value is not None)
    response = api_client.get(f"/products/{product.id}/price-trend?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def _ends(body, metric):
    change = body[metric]
    return change["start"], change["end"], change["change_percent"], change["reason"]


class TestChange:
    def test_rise_is_positive(self, api_client, product, record, offer_ids):
        a, b = offer_ids[:2]
        record(T0, appeared=[(a, 100, 1), (b, 200, 1)])
        record(T0 + timedelta(days=5), changed=[(a, 110, 1)])
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (100, 110, 10.0, None)
        assert _ends(body, "average_price") == (150.0, 155.0, 3.33, None)

    def test_fall_is_negative(self, api_client, product, record, offer_ids):
        a, b = offer_ids[:2]
        record(T0, appeared=[(a, 100, 1), (b, 200, 1)])
        record(T0 + timedelta(days=5), changed=[(a, 80, 1), (b, 120, 4)])
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (100, 80, -20.0, None)
        assert _ends(body, "average_price") == (150.0, 100.0, -33.33, None)

    def test_flat_is_zero(self, api_client, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 100, 1)])
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (100, 100, 0.0, None)
        assert _ends(body, "average_price") == (100.0, 100.0, 0.0, None)
        assert len(body["points"]) == 1

    def test_percent_rounds_halves_away_from_zero(self, api_client, product, record, offer_ids):
        # 800 -> 801 is +0.125 %, which rounds to 0.13 (not to the even 0.12); 800 -> 799 to -0.13.
        record(T0, appeared=[(offer_ids[0], 800, 1)])
        record(T0 + timedelta(days=2), changed=[(offer_ids[0], 801, 1)])
        assert _ends(_trend(api_client, product), "best_price")[2] == 0.13
        record(T0 + timedelta(days=3), changed=[(offer_ids[0], 799, 1)])
        assert _ends(_trend(api_client, product), "best_price")[2] == -0.13

    def test_the_best_price_is_the_cheapest_offer_in_stock(self, api_client, product, record, offer_ids):
        cheap_sold_out, pricier = offer_ids[:2]
        record(T0, appeared=[(cheap_sold_out, 50, 0), (pricier, 100, 2)])
        body = _trend(api_client, product)
        assert body["start"] == {
            "at": "2025-03-02T00:00:00Z",
            "best_price": 100,
            "average_price": 100.0,
            "offers_in_stock": 1,
        }

    def test_vanished_offers_no_longer_count(self, api_client, product, record, offer_ids):
        a, b = offer_ids[:2]
        record(T0, appeared=[(a, 100, 1), (b, 200, 1)])
        record(T0 + timedelta(days=3), vanished=[(a, 100, 1)])
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (100, 200, 100.0, None)
        assert body["end"]["offers_in_stock"] == 1


class TestTooLittleHistory:
    def test_no_history_at_all(self, api_client, product):
        body = _trend(api_client, product)
        for metric in ("best_price", "average_price"):
            assert _ends(body, metric) == (None, None, None, "no_history_at_start")
        assert body["points"] == [
            {"at": "2025-03-02T00:00:00Z", "best_price": None, "average_price": None, "offers_in_stock": 0}
        ]

    def test_no_history_by_until_even_with_later_events(self, api_client, product, record, offer_ids):
        record(T0 + timedelta(days=20), appeared=[(offer_ids[0], 100, 1)])  # after the period
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (None, None, None, "no_history_at_start")
        assert body["history_starts_at"] is None


class TestHistoryStartingInsideThePeriod:
    def test_the_trend_starts_at_the_first_event_and_says_so(self, api_client, product, record, offer_ids):
        record(T0 + timedelta(days=4), appeared=[(offer_ids[0], 100, 1), (offer_ids[1], 300, 1)])
        record(T0 + timedelta(days=6), changed=[(offer_ids[0], 80, 1)])
        body = _trend(api_client, product)
        assert body["since"] == "2025-03-02T00:00:00Z"  # as asked
        assert body["history_starts_at"] == "2025-03-05T00:00:00Z"
        assert body["start"] == {
            "at": "2025-03-05T00:00:00Z",
            "best_price": 100,
            "average_price": 200.0,
            "offers_in_stock": 2,
        }
        assert _ends(body, "best_price") == (100, 80, -20.0, None)
        assert _ends(body, "average_price") == (200.0, 190.0, -5.0, None)
        assert [p["at"] for p in body["points"]] == ["2025-03-05T00:00:00Z", "2025-03-07T00:00:00Z"]

    def test_sampled_points_start_there_too(self, api_client, product, record, offer_ids):
        record(T0 + timedelta(days=4), appeared=[(offer_ids[0], 100, 1)])
        body = _trend(api_client, product, interval="day")
        assert body["history_starts_at"] == "2025-03-05T00:00:00Z"
        assert body["points"][0]["at"] == "2025-03-05T00:00:00Z"
        assert all(p["best_price"] == 100 for p in body["points"])

    def test_a_product_tracked_for_two_days_has_a_trend_by_default(self, api_client, product, record, offer_ids):
        from django.utils import timezone

        now = timezone.now()
        record(now - timedelta(days=2), appeared=[(offer_ids[0], 100, 1)])
        record(now - timedelta(days=1), changed=[(offer_ids[0], 110, 1)])
        body = api_client.get(f"/products/{product.id}/price-trend").json()
        assert body["history_starts_at"] is not None
        assert _ends(body, "best_price") == (100, 110, 10.0, None)

    def test_history_covering_the_start_is_not_flagged(self, api_client, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 100, 1)])
        assert _trend(api_client, product)["history_starts_at"] is None

    def test_sold_out_at_start(self, api_client, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 100, 0)])
        record(T0 + timedelta(days=4), changed=[(offer_ids[0], 100, 5)])
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (None, 100, None, "none_in_stock_at_start")
        assert _ends(body, "average_price") == (None, 100.0, None, "none_in_stock_at_start")

    def test_sold_out_at_end(self, api_client, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 100, 5)])
        record(T0 + timedelta(days=4), changed=[(offer_ids[0], 100, 0)])
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (100, None, None, "none_in_stock_at_end")
        assert body["end"]["offers_in_stock"] == 0

    def test_every_offer_gone_at_start(self, api_client, product, record, offer_ids):
        record(T0 - timedelta(days=5), appeared=[(offer_ids[0], 100, 5)])
        record(T0, vanished=[(offer_ids[0], 100, 5)])
        record(T0 + timedelta(days=4), appeared=[(offer_ids[1], 90, 5)])
        assert _ends(_trend(api_client, product), "best_price") == (None, 90, None, "none_in_stock_at_start")

    def test_a_free_offer_at_start_has_no_percent(self, api_client, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 0, 1), (offer_ids[1], 100, 1)])
        record(T0 + timedelta(days=4), changed=[(offer_ids[0], 10, 1)])
        body = _trend(api_client, product)
        assert _ends(body, "best_price") == (0, 10, None, "zero_price_at_start")
        assert _ends(body, "average_price") == (50.0, 55.0, 10.0, None)


class TestPoints:
    def test_a_point_for_each_visible_change(self, api_client, product, record, offer_ids):
        a, b = offer_ids[:2]
        record(T0, appeared=[(a, 100, 3)])
        record(SINCE + timedelta(hours=1), appeared=[(b, 90, 1)])
        record(SINCE + timedelta(hours=2), changed=[(a, 100, 2)])  # still in stock, same price: no new point
        record(SINCE + timedelta(hours=3), changed=[(b, 90, 0)])
        record(UNTIL + timedelta(hours=1), changed=[(a, 1, 1)])  # after the period
        body = _trend(api_client, product)
        assert [(p["at"], p["best_price"], p["average_price"], p["offers_in_stock"]) for p in body["points"]] == [
            ("2025-03-02T00:00:00Z", 100, 100.0, 1),
            ("2025-03-02T01:00:00Z", 90, 95.0, 2),
            ("2025-03-02T03:00:00Z", 100, 100.0, 1),
        ]
        assert body["end"]["best_price"] == 100

    def test_an_event_at_the_start_counts_for_the_start(self, api_client, product, record, offer_ids):
        record(SINCE, appeared=[(offer_ids[0], 100, 1)])
        body = _trend(api_client, product)
        assert body["start"]["best_price"] == 100
        assert len(body["points"]) == 1

    def test_daily_points_take_the_state_at_each_midnight(self, api_client, product, record, offer_ids):
        a = offer_ids[0]
        record(T0, appeared=[(a, 100, 1)])
        record(SINCE + timedelta(hours=5), changed=[(a, 90, 1)])
        record(SINCE + timedelta(hours=30), changed=[(a, 80, 1)])
        body = _trend(api_client, product, since="2025-03-02T12:00:00Z", until="2025-03-05T00:00:00Z", interval="day")
        assert body["interval"] == "day"
        assert [(p["at"], p["best_price"]) for p in body["points"]] == [
            ("2025-03-02T12:00:00Z", 90),
            ("2025-03-03T00:00:00Z", 90),
            ("2025-03-04T00:00:00Z", 80),
            ("2025-03-05T00:00:00Z", 80),
        ]

    def test_hourly_points(self, api_client, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 100, 1)])
        record(SINCE + timedelta(minutes=90), changed=[(offer_ids[0], 120, 1)])
        body = _trend(api_client, product, until="2025-03-02T03:00:00Z", interval="hour")
        assert [p["best_price"] for p in body["points"]] == [100, 100, 120, 120]
        assert body["best_price"]["change_percent"] == 20.0


class TestPeriod:
    def test_dates_cover_whole_days(self, api_client, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 100, 1)])
        record(datetime(2025, 3, 11, 23, 30, tzinfo=UTC), changed=[(offer_ids[0], 50, 1)])
        body = _trend(api_client, product, since="2025-03-02", until="2025-03-11")
        assert (body["since"], body["until"]) == ("2025-03-02T00:00:00Z", "2025-03-11T23:59:59.999999Z")
        assert body["best_price"]["end"] == 50

    def test_defaults_to_the_last_30_days(self, api_client, product):
        body = _trend(api_client, product, since=None, until=None)
        since = datetime.fromisoformat(body["since"])
        until = datetime.fromisoformat(body["until"])
        assert until - since == timedelta(days=30)
        assert abs(datetime.now(UTC) - until) < timedelta(minutes=5)
        assert body["interval"] is None

    def test_until_alone_means_the_30_days_before_it(self, api_client, product):
        body = _trend(api_client, product, since=None, until="2025-03-31T00:00:00Z")
        assert body["since"] == "2025-03-01T00:00:00Z"

    def test_naive_datetimes_are_utc_and_offsets_are_converted(self, api_client, product):
        body = _trend(api_client, product, since="2025-03-02T10:00:00", until="2025-03-03T10:00:00%2B02:00")
        assert (body["since"], body["until"]) == ("2025-03-02T10:00:00Z", "2025-03-03T08:00:00Z")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "last-week"}, "since"),
        ({"until": "2025-02-30"}, "until"),
        ({"since": "2025-03-12", "until": "2025-03-02"}, "since"),
        ({"since": "2999-01-01T00:00:00Z", "until": None}, "since"),
        ({"since": "0001-01-01", "until": "2025-01-01"}, "since"),
        ({"until": "9999-12-31T23:59:59Z"}, "until"),
        ({"interval": "week"}, "interval"),
        ({"since": "2000-01-01", "until": "2025-01-01", "interval": "hour"}, "interval"),
    ],
)
def test_bad_parameters_are_400_field_errors(api_client, product, params, field):
    params = {"since": "2025-03-02T00:00:00Z", "until": "2025-03-12T00:00:00Z", **params}
    query = "&".join(f"{key}={value}" for key, value in params.items() if value is not None)
    response = api_client.get(f"/products/{product.id}/price-trend?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize("product_id", ["623bad43-4d7b-46d1-8161-1b8523ae7507", "not-a-uuid"])
def test_unknown_product_is_404(api_client, product_id):
    response = api_client.get(f"/products/{product_id}/price-trend")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_query_count_does_not_grow_with_history(api_client, product, record, django_assert_max_num_queries):
    offers = [uuid.uuid4() for _ in range(10)]
    record(T0, appeared=[(offer_id, 100, 1) for offer_id in offers])
    for hour in range(1, 200):
        record(SINCE + timedelta(hours=hour), changed=[(offers[hour % 10], 100 + hour, 1)])
    with django_assert_max_num_queries(3):
        body = _trend(api_client, product)
    assert len(body["points"]) == 200


class TestBoundedWork:
    """The replay's work grows with the period's events: past PRICE_TREND_MAX_EVENTS the answer is a 400."""

    @pytest.fixture
    def seven_changes(self, record, offer_ids, settings):
        settings.PRICE_TREND_MAX_EVENTS = 5
        record(T0, appeared=[(offer_ids[0], 100, 1)])
        for hour in range(1, 8):
            record(SINCE + timedelta(hours=hour), changed=[(offer_ids[0], 100 + hour, 1)])

    @pytest.mark.parametrize("interval", [None, "day"])
    def test_a_period_with_more_events_is_refused(self, api_client, product, seven_changes, interval):
        query = "since=2025-03-02&until=2025-03-12" + (f"&interval={interval}" if interval else "")
        response = api_client.get(f"/products/{product.id}/price-trend?{query}")
        assert response.status_code == 400
        assert response.json() == {"since": ["The period holds more than 5 price events; ask for a shorter one."]}

    def test_a_period_of_centuries_is_refused_without_replaying_it(
        self, api_client, product, seven_changes, django_assert_max_num_queries
    ):
        with django_assert_max_num_queries(5) as queries:
            response = api_client.get(f"/products/{product.id}/price-trend?since=1970-01-01&until=9998-12-31")
        assert response.status_code == 400
        assert queries.captured_queries[-1]["sql"].endswith("LIMIT 6")  # the events read: one past the bound

    def test_a_period_within_the_bound_is_answered(self, api_client, product, seven_changes):
        body = _trend(api_client, product, since="2025-03-02T03:30:00Z")
        assert [point["best_price"] for point in body["points"]] == [103, 104, 105, 106, 107]


def test_schema_documents_the_history_endpoints(api_client):
    paths = api_client.get("/schema?format=json").json()["paths"]
    trend = paths["/products/{product_id}/price-trend"]["get"]
    assert {p["name"] for p in trend["parameters"]} >= {"since", "until", "interval"}
    assert set(trend["responses"]) >= {"200", "400", "404"}
    assert trend["responses"]["200"]["content"]["application/json"]["examples"]
    history = paths["/products/{product_id}/offers/history"]["get"]
    assert {p["name"] for p in history["parameters"]} >= {"since", "until", "offer", "limit", "cursor"}
    offers = paths["/products/{product_id}/offers"]["get"]
    assert {p["name"] for p in offers["parameters"]} >= {"min_price", "max_price", "in_stock"}


@pytest.mark.parametrize(
    "snapshot",
    [
        PriceSnapshot(datetime(2025, 3, 1, 9, 0, 30, 125, tzinfo=UTC), 995, 2005, 2),
        PriceSnapshot(datetime(2025, 3, 1, tzinfo=UTC), 1, 10, 3),  # 3.333… → 3.33
        PriceSnapshot(datetime(2025, 3, 1, tzinfo=UTC), None, 0, 0),
    ],
)
def test_a_points_written_out_form_is_what_its_declared_fields_render(snapshot):
    serializer = PriceSnapshotSerializer()
    assert serializer.to_representation(snapshot) == Serializer.to_representation(serializer, snapshot)
