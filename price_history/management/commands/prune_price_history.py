"""`manage.py prune_price_history`: drop price events older than the retention period, in batches."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from price_history.services import DEFAULT_PRUNE_BATCH_SIZE, price_events_prune, price_history_cutoff


class Command(BaseCommand):
    help = (
        "Delete price events observed more than PRICE_HISTORY_DAYS days ago (0 keeps them all), "
        "a batch at a time. The worker does the same once an hour."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Keep this many days instead of PRICE_HISTORY_DAYS (now {settings.PRICE_HISTORY_DAYS}).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_PRUNE_BATCH_SIZE,
            help=f"Events deleted per statement (default {DEFAULT_PRUNE_BATCH_SIZE}).",
        )

    def handle(self, *args, days, batch_size, **options):
        if days is not None and days < 0:
            raise CommandError("--days must be 0 (keep everything) or more")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        cutoff = price_history_cutoff(now=timezone.now(), days=days)
        if cutoff is None:
            self.stdout.write("Retention is off (0 days): nothing pruned.")
            return
        deleted = price_events_prune(older_than=cutoff, batch_size=batch_size)
        self.stdout.write(f"Pruned {deleted} price events observed before {cutoff.isoformat()}.")
