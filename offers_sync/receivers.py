"""How the offer sync learns of new products without the catalogue calling it.

A product saved for the first time gets its sync state in the same transaction, due for
registration, and once that transaction commits the web process tries to register it right away
(an HTTP call, so never inside the transaction). Products inserted without `save()` (bulk_create,
SQL, fixtures loaded raw) get their state from the worker's next cycle instead, which then
registers them.
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
