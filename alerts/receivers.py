"""The alerts' subscription to `offers_sync.signals.offers_changed`.

Runs inside the reconcile transaction, holding the product's row lock: the alerts' new state, the
events and their deliveries commit or roll back with the offers. Cheap on purpose: one indexed
query for the product's alerts (and the every-product ones); writes only when something changed.
"""

from alerts.services import alerts_evaluate
from offers_sync.signals import OffersChanged


def evaluate_alerts(sender, *, changes: OffersChanged, **kwargs) -> None:
    """Evaluate the product's alerts against its offers before and after the change."""
    alerts_evaluate(changes=changes)
