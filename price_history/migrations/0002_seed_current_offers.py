"""Start the history from the offers already mirrored when this app is installed.

Without it, an offer that never changes again would be missing from every trend: history records
changes only, and the sync would see nothing new about it.
"""

from django.db import migrations

BATCH_SIZE = 5000


def seed(apps, schema_editor):
    Offer = apps.get_model("offers_sync", "Offer")
    PriceEvent = apps.get_model("price_history", "PriceEvent")
    batch = []
    for offer in Offer.objects.order_by("pk").iterator(chunk_size=BATCH_SIZE):
        batch.append(
            PriceEvent(
                offer_id=offer.id,
                product_id=offer.product_id,
                kind="appeared",
                price=offer.price,
                items_in_stock=offer.items_in_stock,
                # The mirror has held this state since its last update, as far as anyone knows.
                observed_at=offer.updated_at,
            )
        )
        if len(batch) >= BATCH_SIZE:
            PriceEvent.objects.bulk_create(batch)
            batch = []
    PriceEvent.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("price_history", "0001_initial"),
        ("offers_sync", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
