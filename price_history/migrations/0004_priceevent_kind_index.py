"""An index of the events by kind and time, for the admin's list filtered by kind.

Not atomic: on PostgreSQL the index is built with `CREATE INDEX CONCURRENTLY`, which cannot run
in a transaction, so the sync goes on writing events while it is built (tens of millions of
rows; docs/performance.md has the time at 10,000,000). Other databases build it plainly.
"""

from django.db import migrations, models

import aggregator.postgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("price_history", "0003_changes_feed"),
    ]

    operations = [
        aggregator.postgres.AddIndexConcurrentlyOnPostgres(
            model_name="priceevent",
            index=models.Index(fields=["kind", "observed_at", "id"], name="priceevent_kind_time_idx"),
        ),
    ]
