"""Move the sync's state off catalogue.Product into a row of its own per product.

Creates ProductSyncState, then copies every product's nine sync fields into it in one
INSERT … SELECT (every product gets its row, whatever the catalogue's size). The catalogue's
migration 0003 drops the old columns and runs after this one (`run_before`, so that the catalogue's
migrations name no other app). Reversible: going back copies the values onto the product again.
"""

import datetime
import django.db.models.deletion
from django.db import migrations, models

COLUMNS = (
    "registered_at",
    "registration_attempts",
    "next_registration_at",
    "sync_claimed_for",
    "sync_claimed_by",
    "offers_synced_at",
    "last_sync_error",
    "last_sync_error_at",
)
BATCH_SIZE = 5000


def copy_state_from_products(apps, schema_editor):
    Product = apps.get_model("catalogue", "Product")
    ProductSyncState = apps.get_model("offers_sync", "ProductSyncState")
    quote = schema_editor.quote_name
    columns = ", ".join(quote(column) for column in COLUMNS)
    schema_editor.execute(
        f"INSERT INTO {quote(ProductSyncState._meta.db_table)} ({quote('product_id')}, {columns}) "
        f"SELECT {quote('id')}, {columns} FROM {quote(Product._meta.db_table)}"
    )


def copy_state_to_products(apps, schema_editor):
    Product = apps.get_model("catalogue", "Product")
    ProductSyncState = apps.get_model("offers_sync", "ProductSyncState")
    batch = []
    for state in ProductSyncState.objects.order_by("pk").iterator(chunk_size=BATCH_SIZE):
        batch.append(Product(id=state.product_id, **{column: getattr(state, column) for column in COLUMNS}))
        if len(batch) >= BATCH_SIZE:
            Product.objects.bulk_update(batch, COLUMNS)
            batch = []
    Product.objects.bulk_update(batch, COLUMNS)


class Migration(migrations.Migration):

    dependencies = [
        ('catalogue', '0002_sync_claims'),
        ('offers_sync', '0002_singletons'),
    ]
    # The old columns are dropped only once their values are here.
    run_before = [('catalogue', '0003_remove_sync_state')]

    operations = [
        migrations.CreateModel(
            name='ProductSyncState',
            fields=[
                ('product', models.OneToOneField(editable=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='sync_state', serialize=False, to='catalogue.product')),
                ('registered_at', models.DateTimeField(blank=True, null=True)),
                ('registration_attempts', models.PositiveIntegerField(default=0)),
                ('next_registration_at', models.DateTimeField(blank=True, null=True)),
                ('sync_claimed_for', models.DateTimeField(default=datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))),
                ('sync_claimed_by', models.CharField(blank=True, default='', max_length=100)),
                ('offers_synced_at', models.DateTimeField(blank=True, null=True)),
                ('last_sync_error', models.CharField(blank=True, default='', max_length=500)),
                ('last_sync_error_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('registered_at__isnull', False)), fields=['sync_claimed_for'], name='sync_state_due_idx'), models.Index(condition=models.Q(('registered_at__isnull', True)), fields=['next_registration_at'], name='sync_state_pending_reg_idx')],
            },
        ),
        migrations.RunPython(copy_state_from_products, copy_state_to_products),
    ]
