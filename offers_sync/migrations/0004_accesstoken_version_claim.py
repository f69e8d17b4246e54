"""The access token's version (compare-and-set of the refresh claim) and the id of the claiming attempt."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('offers_sync', '0003_product_sync_state'),
    ]

    operations = [
        migrations.AddField(
            model_name='accesstoken',
            name='refresh_claimed_by',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.AddField(
            model_name='accesstoken',
            name='version',
            field=models.PositiveBigIntegerField(default=0),
        ),
    ]
