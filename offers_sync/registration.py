"""Registering our products with the offers service, now (when created) or later (by the worker).

A product that could not be registered is still ours: it is created, shown as `registered: false`,
and the worker keeps trying with growing pauses until the service accepts it.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from aggregator import outgoing_http
from catalogue.models import Product
from offers_sync.client import OffersServiceError, RefreshTokenRejected
from offers_sync.gateway import WEB_CALL_SECONDS, offers_service_for_web
from offers_sync.models import NEVER, ProductSyncState
from offers_sync.tokens import TokenUnavailable

logger = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=10)
RETRY_CAP = timedelta(minutes=10)
# A registration made while a user waits (POST /products, the admin's create) gives up after this
# long, whatever the offers service does, and leaves the product to the worker: the calls it makes
# (a token renewal, the registration, its retry after a 401) share this one deadline, and waiting
# for another process to renew the token adds at most WEB_TOKEN_WAIT_SECONDS.
REGISTER_NOW_SECONDS = WEB_CALL_SECONDS


@dataclass(frozen=True, slots=True)
class PendingProduct:
    id: uuid.UUID
    name: str
    description: str | None


def registration_retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, … up to 10 minutes between tries."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def product_register_now(*, product: Product) -> bool:
    """Try once, within REGISTER_NOW_SECONDS (and the token wait), to register a new product. Never
    raises for offers-service faults.

    On success the product's `sync_state` (when loaded) is updated in place; on failure it stays
    pending for the worker.
    """
    service = offers_service_for_web()
    if service is None:
        return False
    try:
        with outgoing_http.deadline(REGISTER_NOW_SECONDS):
            service.register(product_id=product.id, name=product.name, description=product.description)
    except RefreshTokenRejected:
        logger.error("configuration error: OFFERS_REFRESH_TOKEN was rejected by the offers service")
        product_registration_failed(product_id=product.id, reason="refresh token rejected")
        return False
    except (OffersServiceError, TokenUnavailable) as exc:
        logger.warning("product %s not registered yet (%s); the sync worker will retry", product.id, exc)
        product_registration_failed(product_id=product.id, reason=str(exc))
        return False
    except Exception as exc:
        # No answer of the service may fail the request that created the product.
        logger.exception("product %s not registered yet (unexpected failure); the sync worker will retry", product.id)
        product_registration_failed(product_id=product.id, reason=f"unexpected failure ({type(exc).__name__})")
        return False
    registered_at = product_mark_registered(product_id=product.id)
    state = getattr(product, "sync_state", None)
    if state is not None:
        state.registered_at, state.next_registration_at = registered_at, None
        state.last_sync_error, state.last_sync_error_at = "", None
    return True


def product_mark_registered(*, product_id: uuid.UUID) -> datetime:
    now = timezone.now()
    _state_update(product_id, registered_at=now, next_registration_at=None, last_sync_error="", last_sync_error_at=None)
    logger.debug("product %s registered with the offers service", product_id)
    return now


def product_mark_unregistered(*, product_id: uuid.UUID) -> None:
    """The service no longer knows the product (404 on its offers): register it again soon."""
    now = timezone.now()
    ProductSyncState.objects.filter(pk=product_id, registered_at__isnull=False).update(
        registered_at=None,
        next_registration_at=now,
        registration_attempts=0,
        last_sync_error="not registered with the offers service; registering again",
        last_sync_error_at=now,
    )


def product_registration_failed(*, product_id: uuid.UUID, reason: str) -> None:
    _state_update(product_id, last_sync_error=f"registration failed: {reason}"[:500], last_sync_error_at=timezone.now())


def _state_update(product_id: uuid.UUID, **fields) -> None:
    """Set fields of the product's sync state, creating the row if the product has none yet.

    A product inserted in bulk has no row until the worker's next cycle, and the admin may
    register it before that.
    """
    if ProductSyncState.objects.filter(pk=product_id).update(**fields):
        return
    try:
        with transaction.atomic():
            ProductSyncState.objects.create(product_id=product_id, **fields)
    except IntegrityError:
        # Created meanwhile by someone else (then set the fields on it), or the product is gone.
        ProductSyncState.objects.filter(pk=product_id).update(**fields)


def product_sync_states_create_missing(*, now: datetime, created_since: datetime | None = None) -> int:
    """Give every product without a sync state one, due for registration now; return how many.

    Products created with `save()` get theirs at once (offers_sync.receivers); this catches those
    inserted in bulk (`bulk_create`, SQL, fixtures). One statement, whatever the number; several
    workers may run it at once (conflicts are skipped), and a product deleted meanwhile only
    makes it try again next cycle. With `created_since`, only products created since then are
    looked at (through the (created_at, id) index) instead of the whole catalogue.
    """
    state_table = connection.ops.quote_name(ProductSyncState._meta.db_table)
    product_table = connection.ops.quote_name(Product._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM stores them (SQLite: naive UTC text)
    params = [adapt(now), adapt(NEVER)]
    recent = ""
    if created_since is not None:
        recent = "AND p.created_at >= %s"
        params.append(adapt(created_since))
    sql = f"""
        INSERT INTO {state_table}
            (product_id, registration_attempts, next_registration_at, sync_claimed_for, sync_claimed_by,
             last_sync_error)
        SELECT p.id, 0, %s, %s, '', ''
        FROM {product_table} p
        WHERE NOT EXISTS (SELECT 1 FROM {state_table} s WHERE s.product_id = p.id) {recent}
        ON CONFLICT DO NOTHING
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            created = cursor.rowcount
    except IntegrityError:
        logger.info("a product was deleted while its sync state was being created; trying again next cycle")
        return 0
    if created:
        logger.info("created the sync state of %d product(s) inserted in bulk", created)
    return created


def products_claim_due_registrations(*, now: datetime, limit: int) -> list[PendingProduct]:
    """Claim pending products whose next try is due, pushing their next try back (backoff).

    Each claim is a conditional update on the `next_registration_at` we read, so of several
    workers only one registers a given product at a time.
    """
    due = (
        ProductSyncState.objects.filter(registered_at__isnull=True, next_registration_at__lte=now)
        .order_by("next_registration_at")
        .values_list(
            "product_id",
            "product__name",
            "product__description",
            "next_registration_at",
            "registration_attempts",
        )[:limit]
    )
    claimed = []
    for product_id, name, description, next_try, attempts in due:
        won = ProductSyncState.objects.filter(
            pk=product_id, registered_at__isnull=True, next_registration_at=next_try
        ).update(
            next_registration_at=now + registration_retry_delay(attempts + 1),
            registration_attempts=F("registration_attempts") + 1,
        )
        if won:
            claimed.append(PendingProduct(id=product_id, name=name, description=description))
    return claimed
