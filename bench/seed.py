"""The benchmark's setup step: fill an empty, migrated database and write what the load scripts need.

Run by bench/api_bench.py with the benchmark's environment (DATABASE_URL pointing at its own
database). It inserts PRODUCTS products with OFFERS_PER_PRODUCT offers each in bulk, creates a user
and a DRF token for the POST benchmark, updates the planner's statistics, and writes the product
ids (one a line) and the token to the paths it is given.
"""

import argparse
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from catalogue.models import Product  # noqa: E402
from offers_sync.models import Offer, ProductSyncState  # noqa: E402

BATCH = 2000


def seed(*, products: int, offers_per_product: int) -> list[uuid.UUID]:
    """Insert the catalogue and its offers; return the product ids in list order."""
    now = timezone.now()
    start = now - timedelta(days=30)
    ids = []
    with transaction.atomic():
        for first in range(0, products, BATCH):
            batch = []
            for n in range(first, min(first + BATCH, products)):
                product = Product(
                    name=f"Bench product {n:05d}",
                    description=f"Description of bench product {n}, long enough to look like a real one.",
                )
                batch.append(product)
            Product.objects.bulk_create(batch)
            # Registered and synced, as a catalogue that has been running a while.
            ProductSyncState.objects.bulk_create(
                ProductSyncState(product_id=p.id, registered_at=now, offers_synced_at=now) for p in batch
            )
            ids += [p.id for p in batch]
        # auto_now_add stamps every row with almost the same instant; spread them out so the
        # list's (created_at, id) order is the insertion order, as it would be in real life.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE catalogue_product SET created_at = %s + (interval '1 second' * (substring(name from 15)::int))",
                [start],
            )
        for first in range(0, len(ids), BATCH):
            Offer.objects.bulk_create(
                Offer(
                    id=uuid.uuid4(),
                    product_id=product_id,
                    price=1000 + (hash((product_id, k)) % 90_000),
                    items_in_stock=(n + k) % 40,
                )
                for n, product_id in enumerate(ids[first : first + BATCH], start=first)
                for k in range(offers_per_product)
            )
        user = get_user_model().objects.create_user(username="bench", password=uuid.uuid4().hex)
        # The benchmarks create, change and delete products (api.permissions).
        user.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="catalogue", codename__in=["add_product", "change_product", "delete_product"]
            )
        )
        Token.objects.create(user=user)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE catalogue_product")
            cursor.execute("VACUUM ANALYZE offers_sync_productsyncstate")
            cursor.execute("VACUUM ANALYZE offers_sync_offer")
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--offers-per-product", type=int, default=5)
    parser.add_argument("--ids-file", required=True)
    parser.add_argument("--token-file", required=True)
    args = parser.parse_args()
    if Product.objects.exists():
        sys.exit("seed: the database already has products; the benchmark wants an empty one")
    started = time.monotonic()
    ids = seed(products=args.products, offers_per_product=args.offers_per_product)
    Path(args.ids_file).write_text("".join(f"{product_id}\n" for product_id in ids))
    Path(args.token_file).write_text(Token.objects.get(user__username="bench").key)
    print(
        f"seed: {len(ids)} products, {Offer.objects.count()} offers, 1 user with a token "
        f"in {time.monotonic() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
