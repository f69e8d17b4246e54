"""Recording what a sync saw change, and pruning events past retention."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalogue.tests.factories import ProductFactory
from offers_sync.tests.factories import OfferFactory
from price_history.models import PriceEvent
from price_history.selectors import price_trend_get
from price_history.services import price_events_prune, price_history_cutoff
from price_history.tests.conftest import T0

pytestmark = pytest.mark.django_db


def _events(product):
    return list(
        PriceEvent.objects.filter(product=product)
        .order_by("observed_at", "id")
        .values_list("offer_id", "kind", "price", "items_in_stock", "observed_at")
    )


class TestRecording:
    def test_appeared_changed_and_vanished_offers_each_get_an_event(self, product, record, offer_ids):
        a, b, c = offer_ids[:3]
        written = record(T0, appeared=[(a, 100, 2)], changed=[(b, 90, 0)], vanished=[(c, 120, 1)])
        assert written == 3
        assert sorted(_events(product)) == sorted(
            [
                (a, "appeared", 100, 2, T0),
                (b, "changed", 90, 0, T0),
                (c, "vanished", 120, 1, T0),
            ]
        )

    def test_nothing_changed_records_nothing_and_runs_no_query(self, product, record):
        with CaptureQueriesContext(connection) as queries:
            assert record(T0) == 0
        assert len(queries) == 0
        assert PriceEvent.objects.count() == 0

    def test_many_changes_are_one_insert(self, product, record, offer_ids):
        with CaptureQueriesContext(connection) as queries:
            record(T0, appeared=[(offer_id, 10, 1) for offer_id in offer_ids])
        assert [q["sql"].split()[0] for q in queries] == ["INSERT"]
        assert PriceEvent.objects.count() == len(offer_ids)

    def test_history_outlives_the_offer_but_not_the_product(self, product, record, offer_ids):
        record(T0, appeared=[(offer_ids[0], 10, 1)])
        record(T0 + timedelta(hours=1), vanished=[(offer_ids[0], 10, 1)])
        assert len(_events(product)) == 2
        product.delete()
        assert PriceEvent.objects.count() == 0


class TestRetention:
    def test_old_events_go_in_batches_and_recent_ones_stay(self, product, record, offer_ids):
        a = offer_ids[0]
        record(T0, appeared=[(a, 100, 1)])
        for day in range(1, 8):
            record(T0 + timedelta(days=day), changed=[(a, 100 + day, 1)])
        record(T0 + timedelta(days=20), changed=[(a, 50, 1)])
        cutoff = T0 + timedelta(days=10)

        with CaptureQueriesContext(connection) as queries:
            deleted = price_events_prune(older_than=cutoff, batch_size=3)

        # The offer's last price before the cutoff (day 7) stays: it is its price at the cutoff.
        assert deleted == 7
        assert [(price, at) for _, _, price, _, at in _events(product)] == [
            (107, T0 + timedelta(days=7)),
            (50, T0 + timedelta(days=20)),
        ]
        deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
        assert len(deletes) >= 3  # 7 events, at most 3 per statement

    def test_an_offer_unchanged_for_the_whole_retention_stays_in_the_trend(self, product, record, offer_ids):
        stable, busy = offer_ids[:2]
        record(T0, appeared=[(stable, 100, 1), (busy, 300, 1)])
        record(T0 + timedelta(days=1), changed=[(busy, 250, 1)])
        cutoff = T0 + timedelta(days=400)

        price_events_prune(older_than=cutoff, batch_size=1)

        trend = price_trend_get(product_id=product.id, since=cutoff, until=cutoff + timedelta(days=1))
        assert (trend.start.best_price, trend.start.offers_in_stock) == (100, 2)
        assert trend.average_price.start == 175

    def test_a_vanished_offer_leaves_nothing_behind_the_cutoff(self, product, record, offer_ids):
        gone = offer_ids[0]
        record(T0, appeared=[(gone, 100, 1)])
        record(T0 + timedelta(days=1), vanished=[(gone, 100, 1)])
        assert price_events_prune(older_than=T0 + timedelta(days=2), batch_size=5000) == 2
        assert PriceEvent.objects.count() == 0

    def test_other_products_and_offers_are_judged_on_their_own(self, product, record, offer_ids):

        other = ProductFactory(name="Other")
        a, b = offer_ids[:2]
        record(T0, appeared=[(a, 1, 1)])
        record(T0, appeared=[(b, 2, 1)], for_product=other)
        record(T0 + timedelta(days=1), changed=[(b, 3, 1)], for_product=other)
        price_events_prune(older_than=T0 + timedelta(days=5), batch_size=1)
        assert [e[2] for e in _events(product)] == [1]
        assert [e[2] for e in _events(other)] == [3]

    def test_a_prune_told_not_to_proceed_stops_and_the_next_one_carries_on(self, product, record, offer_ids):
        for n, offer_id in enumerate(offer_ids):
            record(T0 + timedelta(minutes=n), vanished=[(offer_id, 100, 1)])
        asked = []

        def proceed():
            asked.append(PriceEvent.objects.count())
            return False

        assert price_events_prune(older_than=T0 + timedelta(days=1), batch_size=2, proceed=proceed) == 2
        assert asked == [3]
        assert PriceEvent.objects.count() == 3
        assert price_events_prune(older_than=T0 + timedelta(days=1), batch_size=2) == 3
        assert PriceEvent.objects.count() == 0

    def test_zero_days_turns_retention_off(self, settings):
        settings.PRICE_HISTORY_DAYS = 0
        assert price_history_cutoff(now=T0) is None
        settings.PRICE_HISTORY_DAYS = 30
        assert price_history_cutoff(now=T0) == T0 - timedelta(days=30)


class TestPruneCommand:
    def test_prunes_past_the_configured_retention(self, settings, product, record, offer_ids):
        from django.utils import timezone

        settings.PRICE_HISTORY_DAYS = 30
        now = timezone.now()
        a = offer_ids[0]
        record(now - timedelta(days=60), appeared=[(a, 10, 1)])
        record(now - timedelta(days=50), changed=[(a, 11, 1)])
        record(now - timedelta(days=1), changed=[(a, 12, 1)])
        out = StringIO()
        call_command("prune_price_history", "--batch-size", "1", stdout=out)
        # Day -50 is the offer's price at the cutoff, so it stays; day -60 goes.
        assert "Pruned 1 price events" in out.getvalue()
        assert [e[2] for e in _events(product)] == [11, 12]

    def test_zero_days_prunes_nothing(self, settings, product, record, offer_ids):
        settings.PRICE_HISTORY_DAYS = 0
        record(T0, appeared=[(offer_ids[0], 10, 1)])
        record(T0 + timedelta(days=1), changed=[(offer_ids[0], 11, 1)])
        out = StringIO()
        call_command("prune_price_history", stdout=out)
        assert "Retention is off" in out.getvalue()
        assert PriceEvent.objects.count() == 2

    def test_days_option_overrides_the_setting(self, settings, product, record, offer_ids):
        from django.utils import timezone

        settings.PRICE_HISTORY_DAYS = 0
        now = timezone.now()
        record(now - timedelta(days=10), appeared=[(offer_ids[0], 10, 1)])
        record(now - timedelta(days=9), changed=[(offer_ids[0], 11, 1)])
        call_command("prune_price_history", "--days", "5", stdout=StringIO())
        assert [e[2] for e in _events(product)] == [11]


def test_installing_the_app_starts_history_from_the_mirrored_offers(product):
    """The data migration: offers mirrored before history existed get an `appeared` event each."""
    import importlib

    from django.apps import apps

    seed = importlib.import_module("price_history.migrations.0002_seed_current_offers").seed
    offer = OfferFactory(product=product, price=555, items_in_stock=2)
    seed(apps, None)
    assert _events(product) == [(offer.id, "appeared", 555, 2, offer.updated_at)]


def test_recording_can_be_switched_off(settings, product):
    import uuid as _uuid

    from django.utils import timezone as _tz

    from offers_sync.client import OfferData
    from price_history.models import PriceEvent
    from price_history.tests.factories import record_events

    settings.PRICE_HISTORY_ENABLED = False
    offer = OfferData(id=_uuid.uuid4(), price=100, items_in_stock=1)
    written = record_events(product.id, _tz.now(), appeared=[offer])
    assert written == 0
    assert PriceEvent.objects.count() == 0
