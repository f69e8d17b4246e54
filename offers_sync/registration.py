"""Registering our products with the offers service, now (when created) or later (by the worker).

A product that could not be registered is still ours: it is created, shown as `registered: false`,
and the worker keeps trying with growing pauses until the service accepts it.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from catalogue.models import Product
from offers_sync.client import OffersServiceError, RefreshTokenRejected
from offers_sync.gateway import OffersService, offers_service_for_web
from offers_sync.tokens import TokenUnavailable

logger = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=10)
RETRY_CAP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class PendingProduct:
    id: uuid.UUID
    name: str
    description: str | None


def registration_retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, … up to 10 minutes between tries."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def product_register_now(*, product: Product, service: OffersService | None = None) -> bool:
    """Try once, quickly, to register a new product. Never raises for offers-service faults.

    On success `product` is updated in place; on failure it stays pending for the worker.
    """
    service = service or offers_service_for_web()
    if service is None:
        return False
    try:
        service.register(product_id=product.id, name=product.name, description=product.description)
    except RefreshTokenRejected:
        logger.error("configuration error: OFFERS_REFRESH_TOKEN was rejected by the offers service")
        product_registration_failed(product_id=product.id, reason="refresh token rejected")
        return False
    except (OffersServiceError, TokenUnavailable) as exc:
        logger.warning("product %s not registered yet (%s); the sync worker will retry", product.id, exc)
        product_registration_failed(product_id=product.id, reason=str(exc))
        return False
    product.registered_at = product_mark_registered(product_id=product.id)
    product.next_registration_at = None
    return True


def product_mark_registered(*, product_id: uuid.UUID) -> datetime:
    now = timezone.now()
    Product.objects.filter(pk=product_id).update(
        registered_at=now, next_registration_at=None, last_sync_error="", last_sync_error_at=None
    )
    logger.debug("product %s registered with the offers service", product_id)
    return now


def product_mark_unregistered(*, product_id: uuid.UUID) -> None:
    """The service no longer knows the product (404 on its offers): register it again soon."""
    now = timezone.now()
    Product.objects.filter(pk=product_id, registered_at__isnull=False).update(
        registered_at=None,
        next_registration_at=now,
        registration_attempts=0,
        last_sync_error="not registered with the offers service; registering again",
        last_sync_error_at=now,
    )


def product_registration_failed(*, product_id: uuid.UUID, reason: str) -> None:
    Product.objects.filter(pk=product_id).update(
        last_sync_error=f"registration failed: {reason}"[:500], last_sync_error_at=timezone.now()
    )


def products_schedule_registration(*, products: list[Product], **kwargs) -> None:
    """`catalogue.signals.products_created` receiver: bulk-created products are due for registration now.

    The worker registers them in its next cycles (REGISTRATIONS_PER_CYCLE at a time); no call to
    the offers service is made while the creating request waits.
    """
    Product.objects.filter(pk__in=[product.pk for product in products]).update(next_registration_at=timezone.now())


def products_claim_due_registrations(*, now: datetime, limit: int) -> list[PendingProduct]:
    """Claim pending products whose next try is due, pushing their next try back (backoff).

    Each claim is a conditional update on the `next_registration_at` we read, so of several
    workers only one registers a given product at a time.
    """
    due = (
        Product.objects.filter(registered_at__isnull=True, next_registration_at__lte=now)
        .order_by("next_registration_at")
        .values_list("id", "name", "description", "next_registration_at", "registration_attempts")[:limit]
    )
    claimed = []
    for product_id, name, description, next_try, attempts in due:
        won = Product.objects.filter(
            pk=product_id, registered_at__isnull=True, next_registration_at=next_try
        ).update(
            next_registration_at=now + registration_retry_delay(attempts + 1),
            registration_attempts=F("registration_attempts") + 1,
        )
        if won:
            claimed.append(PendingProduct(id=product_id, name=name, description=description))
    return claimed
