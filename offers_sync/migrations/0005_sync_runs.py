# SyncRun: one row per sync cycle of each worker (the admin list, the sync status page, history).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('offers_sync', '0004_accesstoken_version_claim'),
    ]

    operations = [
        migrations.CreateModel(
            name='SyncRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cycle_id', models.CharField(max_length=32)),
                ('worker', models.CharField(max_length=100)),
                ('tick', models.DateTimeField()),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField()),
                ('outcome', models.CharField(choices=[('completed', 'Completed'), ('stopped', 'stopped early (worker shutting down)'), ('skipped', 'skipped (no access token)'), ('failed', 'failed (database unavailable)')], max_length=10)),
                ('reason', models.CharField(blank=True, default='', max_length=500)),
                ('products_synced', models.PositiveIntegerField(default=0)),
                ('products_failed', models.PositiveIntegerField(default=0)),
                ('products_unregistered', models.PositiveIntegerField(default=0)),
                ('products_registered', models.PositiveIntegerField(default=0)),
                ('registrations_failed', models.PositiveIntegerField(default=0)),
                ('offers_added', models.PositiveIntegerField(default=0)),
                ('offers_changed', models.PositiveIntegerField(default=0)),
                ('offers_removed', models.PositiveIntegerField(default=0)),
                ('duration_seconds', models.FloatField(default=0.0)),
                ('seconds_claiming', models.FloatField(default=0.0)),
                ('seconds_waiting', models.FloatField(default=0.0)),
                ('seconds_reconciling', models.FloatField(default=0.0)),
                ('failures', models.JSONField(blank=True, default=dict)),
            ],
            options={
                'ordering': ['-started_at', '-id'],
                'indexes': [models.Index(fields=['started_at', 'id'], name='sync_run_started_idx')],
            },
        ),
    ]
