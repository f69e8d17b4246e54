"""The events' writing transaction id (`xact_id`) for the changes feed, and its index.

Not atomic: on PostgreSQL the index is built with `CREATE INDEX CONCURRENTLY`, which cannot run
in a transaction, so the sync goes on writing events while it is built on a large table. Other
databases build it plainly. The column itself is added at once (its default is evaluated once,
so the table is not rewritten). Should the index build fail half-way, PostgreSQL keeps an INVALID
index: drop it and the column (`DROP INDEX CONCURRENTLY priceevent_xact_idx; ALTER TABLE
price_history_priceevent DROP COLUMN xact_id`) and migrate again.
"""

from django.db import migrations, models

import aggregator.postgres
import price_history.models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("catalogue", "0002_sync_claims"),
        ("price_history", "0002_seed_current_offers"),
    ]

    operations = [
        migrations.AddField(
            model_name="priceevent",
            name="xact_id",
            field=models.BigIntegerField(db_default=price_history.models.CurrentTransactionId(), editable=False),
        ),
        aggregator.postgres.AddIndexConcurrentlyOnPostgres(
            model_name="priceevent",
            index=models.Index(fields=["xact_id", "id"], name="priceevent_xact_idx"),
        ),
    ]
