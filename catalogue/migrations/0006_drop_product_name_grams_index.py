"""Drop the index of each name's 1- and 2-character pieces and its function (PostgreSQL; nothing elsewhere).

The search is `name__icontains` over the trigram index of migration 0004 alone. Dropping an index
is quick; it waits only for transactions already using the table. Unapplying recreates the
function and builds the index again (not concurrently).
"""

import importlib

from django.db import migrations

import aggregator.postgres

grams = importlib.import_module("catalogue.migrations.0005_product_name_grams_index")


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_product_name_grams_index"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="product", name="product_name_grams_idx"),
        aggregator.postgres.RunSQLOnPostgres(
            "DROP FUNCTION IF EXISTS catalogue_name_grams(text)", reverse_sql=grams.FUNCTION
        ),
    ]
