"""The alerts' subscriptions: `offers_sync.signals.offers_changed_batch`, and products being deleted.

Runs inside the reconcile transaction, holding the products' row locks: the alerts' new state, the
events and their deliveries commit or roll back with the offers. Cheap on purpose: one indexed
query for the batch's alerts (and the every-product ones), whatever the batch's size; writes only
when something changed.
"""

from collections.abc import Sequence

from alerts.services import alerts_evaluate_batch, alerts_of_deleted_product
from offers_sync.signals import OffersChanged


def evaluate_alerts(sender, *, changes: Sequence[OffersChanged], **kwargs) -> None:
    """Evaluate the batch's products' alerts against their offers before and after the change."""
    alerts_evaluate_batch(changes=changes)


def tell_owners_of_deleted_product(sender, *, instance, **kwargs) -> None:
    """Before a product (and with it its alerts) is deleted, queue an `alert.deleted` per alert."""
    alerts_of_deleted_product(product=instance)
