"""The history of cycles: retention, and how it shows in the admin."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalogue.tests.factories import ProductFactory
from offers_sync.management.commands.run_sync import Command
from offers_sync.models import SyncRun
from offers_sync.sync import CycleSummary
from offers_sync.sync_runs import sync_run_record, sync_runs_cutoff, sync_runs_prune
from offers_sync.tests.factories import make_product

pytestmark = pytest.mark.django_db


def run_at(started_at, *, outcome="completed", worker="w1", **counts) -> SyncRun:
    summary = CycleSummary(tick=started_at, **counts)
    return sync_run_record(
        cycle_id=f"c{started_at.timestamp():.0f}{worker}",
        worker=worker,
        tick=started_at,
        started_at=started_at,
        finished_at=started_at + timedelta(seconds=summary.duration_seconds),
        outcome=outcome,
        summary=summary if outcome in ("completed", "stopped") else None,
        reason="" if outcome in ("completed", "stopped") else "no access token for the offers service",
    )


def test_pruning_deletes_only_rows_past_retention_in_batches(settings):
    settings.SYNC_RUNS_DAYS = 30
    now = timezone.now()
    old = [run_at(now - timedelta(days=40, minutes=i)) for i in range(5)]
    kept = [run_at(now - timedelta(days=29)), run_at(now)]
    assert sync_runs_prune(older_than=sync_runs_cutoff(now=now), batch_size=2) == len(old)
    assert sorted(SyncRun.objects.values_list("id", flat=True)) == sorted(r.id for r in kept)


def test_pruning_stops_between_batches_when_the_worker_is_stopping():
    now = timezone.now()
    for i in range(4):
        run_at(now - timedelta(days=40, minutes=i))
    answers = iter([False, True])
    assert sync_runs_prune(older_than=now - timedelta(days=30), batch_size=2, should_stop=lambda: next(answers)) == 2
    assert SyncRun.objects.count() == 2


def test_zero_days_keeps_the_history_forever(settings):
    settings.SYNC_RUNS_DAYS = 0
    assert sync_runs_cutoff(now=timezone.now()) is None


def test_the_worker_prunes_the_cycle_history_with_the_price_history(settings):
    settings.SYNC_RUNS_DAYS = 7
    now = timezone.now()
    run_at(now - timedelta(days=8))
    recent = run_at(now - timedelta(days=6))
    Command().prune_cycle_history_when_due()
    assert list(SyncRun.objects.values_list("id", flat=True)) == [recent.id]


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user(username="ops", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_the_sync_status_page_reads_like_a_summary(staff_client, settings):
    settings.SYNC_SCHEDULE = "*/30 * * * * *"
    now = timezone.now()
    run_at(now - timedelta(hours=2), products_synced=40, products_failed=2, duration_seconds=3.5)
    run_at(now - timedelta(minutes=1), outcome="skipped", worker="w2")
    stale = make_product(
        "Stale teapot", registered_at=now - timedelta(days=1), offers_synced_at=now - timedelta(hours=1)
    )
    pending = ProductFactory(name="Pending kettle")
    make_product("Fresh mug", registered_at=now - timedelta(days=1), offers_synced_at=now)

    response = staff_client.get("/admin/offers_sync/syncstatus/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and "sync-runs-chart" in page
    assert "skipped (no access token): no access token for the offers service" in page
    assert f'href="/admin/catalogue/product/{stale.pk}/change/"' in page
    assert f'href="/admin/catalogue/product/{pending.pk}/change/"' in page
    assert "Fresh mug" not in page
    assert "last_cycle_summary" not in page and "{&quot;" not in page  # no JSON dump


def test_the_sync_status_page_is_for_staff_only(client):
    response = client.get("/admin/offers_sync/syncstatus/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_cycle_list_filters_by_outcome_and_worker(staff_client):
    now = timezone.now()
    run_at(now, worker="alpha")
    run_at(now - timedelta(minutes=1), outcome="skipped", worker="beta")

    def listed(**filters) -> set[str]:
        page = staff_client.get("/admin/offers_sync/syncrun/", filters).content.decode()
        return set(re.findall(r'<td class="field-worker">([^<]*)</td>', page))

    assert listed() == {"alpha", "beta"}
    assert listed(outcome="skipped") == {"beta"}
    assert listed(worker="alpha") == {"alpha"}
