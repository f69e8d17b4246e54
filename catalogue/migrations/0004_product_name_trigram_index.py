"""Trigram index for ?search= on PostgreSQL, built without blocking writes; nothing on other databases.

Not atomic: `CREATE INDEX CONCURRENTLY` cannot run in a transaction. It waits for transactions
already running on the table, then builds while products are created and updated (at 1,000,000
products, see docs/performance.md). `CREATE EXTENSION pg_trgm` is skipped when the extension is
installed; otherwise the database user needs the CREATE privilege on the database (pg_trgm is a
trusted extension, so the database's owner has it), see docs/operations.md.

The planner judges how many names contain a searched part from a sample of the indexed values:
with the default 100 it often finds none of a part that is in 2 % of the names, and then reads
every match and sorts them rather than walk the list's index until a page is full (80 ms against
0.3 ms at 1,000,000 products). A sample ten times larger sees them; ANALYZE takes the statistics
now rather than at autovacuum's next pass. Neither blocks reads or writes.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations

import aggregator.postgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("catalogue", "0003_remove_sync_state"),
    ]

    operations = [
        aggregator.postgres.CreateExtensionOnPostgres("pg_trgm"),
        aggregator.postgres.AddIndexConcurrentlyOnPostgres(
            model_name="product",
            index=aggregator.postgres.PostgresOnlyGinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("name"), name="gin_trgm_ops"
                ),
                name="product_name_trgm_idx",
            ),
        ),
        aggregator.postgres.RunSQLOnPostgres(
            "ALTER INDEX product_name_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000",
            reverse_sql=migrations.RunSQL.noop,  # the index goes with the operation above
        ),
        aggregator.postgres.RunSQLOnPostgres("ANALYZE catalogue_product", reverse_sql=migrations.RunSQL.noop),
    ]
