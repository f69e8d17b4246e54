"""Indexes for the retention of webhook history: the oldest finished deliveries, the oldest events.

Not atomic: on PostgreSQL they are built with `CREATE INDEX CONCURRENTLY` (no transaction), so
the sync and the webhook workers go on writing events and deliveries meanwhile.
"""

from django.db import migrations, models

import aggregator.postgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0001_initial"),
    ]

    operations = [
        aggregator.postgres.AddIndexConcurrentlyOnPostgres(
            model_name="delivery",
            index=models.Index(
                condition=~models.Q(status="pending"),
                fields=["created_at", "id"],
                name="alerts_delivery_finished_idx",
            ),
        ),
        aggregator.postgres.AddIndexConcurrentlyOnPostgres(
            model_name="webhookevent",
            index=models.Index(fields=["created_at", "id"], name="alerts_event_created_idx"),
        ),
    ]
