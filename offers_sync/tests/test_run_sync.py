"""The worker command as an operator meets it: start-up checks, --once, --check."""

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalogue.tests.factories import ProductFactory
from price_history.tests.factories import PriceEventFactory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_command(*args, **env):
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "aggregator.test_settings"}
    return subprocess.run(
        [sys.executable, "manage.py", "run_sync", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("schedule", ["61 * * * * *", "every minute", "* * *"])
def test_invalid_schedule_exits_at_once_with_one_line(schedule):
    result = run_command(SYNC_SCHEDULE=schedule)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "SYNC_SCHEDULE" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_schedule_disables_the_sync_and_exits_0():
    result = run_command(SYNC_SCHEDULE="")
    assert result.returncode == 0
    assert "disabled" in result.stdout + result.stderr


def test_missing_offers_service_configuration_exits_non_zero():
    # aggregator.test_settings blanks OFFERS_SERVICE_URL and OFFERS_REFRESH_TOKEN.
    result = run_command()
    assert result.returncode != 0
    assert "OFFERS_SERVICE_URL" in result.stderr
    assert "Traceback" not in result.stderr


class TestCheck:
    @pytest.fixture
    def heartbeat(self, tmp_path, settings):
        settings.SYNC_HEARTBEAT_FILE = str(tmp_path / "heartbeat")
        settings.SYNC_SCHEDULE = "*/30 * * * * *"
        settings.SYNC_HEARTBEAT_MAX_AGE = 60
        return tmp_path / "heartbeat"

    def write(self, path, *, beat_ago, started_ago, cycle_ago):
        now = timezone.now()
        path.write_text(
            json.dumps(
                {
                    "pid": 1,
                    "beat_at": (now - timedelta(seconds=beat_ago)).isoformat(),
                    "started_at": (now - timedelta(seconds=started_ago)).isoformat(),
                    "last_cycle_finished_at": (
                        None if cycle_ago is None else (now - timedelta(seconds=cycle_ago)).isoformat()
                    ),
                }
            )
        )

    def test_alive_and_syncing(self, heartbeat):
        self.write(heartbeat, beat_ago=3, started_ago=600, cycle_ago=20)
        out = StringIO()
        call_command("run_sync", "--check", stdout=out)
        assert "alive" in out.getvalue()

    def test_just_started_without_a_cycle_yet_is_alive(self, heartbeat):
        self.write(heartbeat, beat_ago=1, started_ago=10, cycle_ago=None)
        call_command("run_sync", "--check", stdout=StringIO())

    def test_no_heartbeat_file(self, heartbeat):
        with pytest.raises(CommandError, match="no readable heartbeat"):
            call_command("run_sync", "--check")

    def test_stale_heartbeat(self, heartbeat):
        self.write(heartbeat, beat_ago=120, started_ago=600, cycle_ago=20)
        with pytest.raises(CommandError, match="heartbeat is"):
            call_command("run_sync", "--check")

    def test_no_cycle_completed_for_too_long(self, heartbeat):
        self.write(heartbeat, beat_ago=1, started_ago=3600, cycle_ago=1800)
        with pytest.raises(CommandError, match="no sync cycle completed"):
            call_command("run_sync", "--check")


@pytest.mark.django_db
def test_worker_prunes_price_history_past_retention_once_an_hour(settings, tmp_path):
    from offers_sync.management.commands.run_sync import Command
    from price_history.models import PriceEvent
    from price_history.receivers import prune_when_due

    settings.PRICE_HISTORY_DAYS = 30
    settings.SYNC_HEARTBEAT_FILE = str(tmp_path / "heartbeat")
    product = ProductFactory(name="Mug")
    old = timezone.now() - timedelta(days=40)
    offer_id = uuid.uuid4()
    for kind, at in (("appeared", old), ("vanished", old + timedelta(minutes=1))):
        PriceEventFactory(offer_id=offer_id, product=product, kind=kind, price=1, items_in_stock=0, observed_at=at)
    prune_when_due.last_run_at = None  # a fresh worker
    command = Command()
    command.stop, command.heartbeat_file = threading.Event(), Path(settings.SYNC_HEARTBEAT_FILE)
    command.after_cycle(None)
    assert PriceEvent.objects.count() == 0
    PriceEventFactory(offer_id=offer_id, product=product, kind="appeared", price=1, items_in_stock=0, observed_at=old)
    command.after_cycle(None)  # within the hour: not again
    assert PriceEvent.objects.count() == 1


class TestLongPrune:
    """A prune of many batches, as after a long outage or a lowered PRICE_HISTORY_DAYS."""

    @pytest.fixture
    def worker(self, settings, tmp_path, monkeypatch):
        from offers_sync.management.commands import run_sync
        from price_history import receivers

        settings.PRICE_HISTORY_DAYS = 30
        settings.SYNC_HEARTBEAT_FILE = str(tmp_path / "heartbeat")
        monkeypatch.setattr(receivers, "PRUNE_BATCH_SIZE", 2)
        monkeypatch.setattr(receivers.prune_when_due, "last_run_at", None)  # a fresh worker
        command = run_sync.Command()
        command.stop, command.heartbeat_file = threading.Event(), Path(settings.SYNC_HEARTBEAT_FILE)
        return command

    @pytest.fixture
    def ten_expired_events(self, db):
        from price_history.models import PriceEvent

        product = ProductFactory(name="Mug")
        old = timezone.now() - timedelta(days=40)
        PriceEvent.objects.bulk_create(
            PriceEvent(
                offer_id=uuid.uuid4(),
                product=product,
                kind="vanished",
                price=1,
                items_in_stock=0,
                observed_at=old + timedelta(minutes=n),
            )
            for n in range(10)
        )

    def left(self) -> int:
        from price_history.models import PriceEvent

        return PriceEvent.objects.count()

    def test_the_heartbeat_file_is_written_between_batches(self, worker, ten_expired_events):
        real_beat, seen = worker.beat, []

        def beat():
            real_beat()
            # Read and remove it, so each entry proves a fresh write.
            seen.append((self.left(), json.loads(worker.heartbeat_file.read_text())["pid"]))
            worker.heartbeat_file.unlink()

        worker.beat = beat
        worker.after_cycle(None)
        assert seen == [(8, os.getpid()), (6, os.getpid()), (4, os.getpid()), (2, os.getpid()), (0, os.getpid())]

    def test_sigterm_stops_the_prune_after_the_batch_in_hand(self, worker, ten_expired_events):
        real_beat, beats = worker.beat, []

        def beat():
            real_beat()
            beats.append(self.left())
            if len(beats) == 2:
                worker.on_signal(signal.SIGTERM, None)

        worker.beat = beat
        worker.after_cycle(None)
        assert beats == [8, 6]
        assert self.left() == 6  # nothing deleted after the signal; the next start goes on

    def test_a_worker_already_stopping_does_not_start_a_prune(self, worker, ten_expired_events):
        worker.stop.set()
        worker.after_cycle(None)
        assert self.left() == 10


@pytest.mark.django_db
def test_an_unforeseen_cycle_error_is_logged_once_and_the_worker_goes_on(caplog):
    from offers_sync.management.commands.run_sync import Command

    class Exploding:
        worker_name = "worker-1"

        def run_cycle(self, tick):
            raise RuntimeError("nobody saw this coming")

    command = Command()
    command.syncer = Exploding()
    assert command.run_cycle(timezone.now()) is None  # not raised: the loop goes on to the next tick
    failures = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
