"""Drop the sync's state from the product: offers_sync's migration 0003 has copied it into
ProductSyncState and runs before this one (its `run_before`)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('catalogue', '0002_sync_claims'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='product',
            name='product_pending_reg_idx',
        ),
        migrations.RemoveIndex(
            model_name='product',
            name='product_sync_due_idx',
        ),
        migrations.RemoveField(
            model_name='product',
            name='last_sync_error',
        ),
        migrations.RemoveField(
            model_name='product',
            name='last_sync_error_at',
        ),
        migrations.RemoveField(
            model_name='product',
            name='next_registration_at',
        ),
        migrations.RemoveField(
            model_name='product',
            name='offers_synced_at',
        ),
        migrations.RemoveField(
            model_name='product',
            name='registered_at',
        ),
        migrations.RemoveField(
            model_name='product',
            name='registration_attempts',
        ),
        migrations.RemoveField(
            model_name='product',
            name='sync_claimed_by',
        ),
        migrations.RemoveField(
            model_name='product',
            name='sync_claimed_for',
        ),
    ]
