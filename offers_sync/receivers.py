"""How the offer sync learns of new products without the catalogue calling it.

A product saved for the first time gets its sync state in the same transaction, due for
registration, and once that transaction commits the web process tries to register it right away
(an HTTP call, so never inside the transaction). Products inserted without `save()` (bulk_create,
SQL, fixtures loaded raw) get their state from the worker's next cycle instead, which then
registers them. Bulk creates of the catalogue (`catalogue.signals.products_created`) get their
state rows at once, in the creating transaction, due for registration by the worker (a bulk
request never waits on the offers service).
"""

from functools import partial

from django.db import transaction
from django.utils import timezone

from offers_sync.models import ProductSyncState
from offers_sync.registration import product_register_now


def product_saved(sender, *, instance, created: bool, raw: bool = False, using: str, **kwargs) -> None:
    """post_save of catalogue.Product."""
    if not created or raw:
        return
    # Created with the product as its relation: `instance.sync_state` is then this row, no query.
    ProductSyncState.objects.using(using).create(product=instance, next_registration_at=timezone.now())
    transaction.on_commit(partial(product_register_now, product=instance), using=using)


def products_created_in_bulk(sender, *, products, **kwargs) -> None:
    """`catalogue.signals.products_created`: sync state rows for the new products, due for registration now."""
    now = timezone.now()
    states = []
    for product in products:
        # Assigning the reverse relation caches it both ways: the answer reads `product.sync_state`
        # without a query per product.
        product.sync_state = ProductSyncState(product=product, next_registration_at=now)
        states.append(product.sync_state)
    ProductSyncState.objects.bulk_create(states, ignore_conflicts=True)  # a row made meanwhile stays
