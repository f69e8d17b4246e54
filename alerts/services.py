"""Writes of the alerts app: endpoints, alerts, their evaluation, events and deliveries, and their retention.

Events are written with their deliveries in the caller's transaction; the worker
(alerts.dispatch, run_webhooks) sends them after the commit.
"""

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from aggregator.pagination import keyset_page
from aggregator.retention import retention_cutoff
from alerts.addresses import check_url
from alerts.models import (
    Alert,
    AlertKind,
    AlertReference,
    Delivery,
    DeliveryStatus,
    EventType,
    WebhookEndpoint,
    WebhookEvent,
)
from alerts.rules import AlertState, OfferSummary, evaluate, initial_state, state_before, summarize
from alerts.signing import new_secret
from catalogue.models import Product
from offers_sync.models import Offer
from offers_sync.signals import OffersChanged
from price_history.models import PriorPrice

# -- per-user limits -------------------------------------------------------------------------


class LimitReached(Exception):
    """The user has as many of something as a setting allows; the message names it and is safe to show."""

    def __init__(self, what: str, limit: int, setting: str):
        super().__init__(f"You have {limit} {what}, the most allowed ({setting}); delete one before creating another.")
        self.setting = setting


def _check_limit(queryset, *, owner, what: str, setting: str) -> None:
    """Raise LimitReached when `queryset` (the owner's rows) already holds as many as the setting
    named `setting` allows; call inside a transaction.

    The owner's row is locked first, so two requests at once cannot both take the last place.
    """
    get_user_model().objects.select_for_update().filter(pk=owner.pk).exists()
    limit = getattr(settings, setting)
    if queryset.count() >= limit:
        raise LimitReached(what, limit, setting)


# -- endpoints -------------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(*, owner, url: str, description: str | None = None) -> WebhookEndpoint:
    """A new endpoint with a fresh secret. Raises alerts.addresses.UnsafeUrl for a URL we won't call,
    LimitReached past WEBHOOK_ENDPOINTS_PER_USER."""
    check_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS)
    _check_limit(
        WebhookEndpoint.objects.filter(owner=owner),
        owner=owner,
        what="webhook endpoints",
        setting="WEBHOOK_ENDPOINTS_PER_USER",
    )
    return WebhookEndpoint.objects.create(owner=owner, url=url, description=description, secret=new_secret())


def endpoint_update(*, endpoint: WebhookEndpoint, data: dict) -> WebhookEndpoint:
    """Change url, description or is_active; re-enabling forgets the failing streak."""
    if "url" in data:
        check_url(data["url"], allow_private=settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS)
    fields = ["updated_at"]
    for name in ("url", "description", "is_active"):
        if name in data:
            setattr(endpoint, name, data[name])
            fields.append(name)
    if data.get("is_active"):
        endpoint.failing_since = None
        fields.append("failing_since")
    endpoint.save(update_fields=fields)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint, its alerts and its deliveries (and the events nobody else delivers)."""
    with transaction.atomic():
        event_ids = list(endpoint.deliveries.values_list("event_id", flat=True))
        endpoint.delete()
        WebhookEvent.objects.filter(id__in=event_ids, deliveries__isnull=True).delete()


class EndpointDisabled(Exception):
    """The endpoint is disabled: nothing is queued for it until it is enabled again."""


@transaction.atomic
def endpoint_ping(*, endpoint: WebhookEndpoint) -> Delivery:
    """Queue a `webhook.ping` event to the endpoint; raises EndpointDisabled for a disabled one."""
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists():
        raise EndpointDisabled("The endpoint is disabled; enable it (is_active: true) before pinging it.")
    return _events_create([(EventType.WEBHOOK_PING, {"webhook_id": str(endpoint.id)}, endpoint.id)])[0]


# -- alerts ----------------------------------------------------------------------------------


@transaction.atomic
def alert_create(
    *, owner, endpoint: WebhookEndpoint, product: Product | None, kind: str, threshold: int | None
) -> Alert:
    """A new alert, starting from the product's offers as they are now.

    The product's row is locked as the reconciler locks it, so the starting state is the one the
    next evaluation starts from. A `price_below` whose condition already holds fires at once. An
    every-product alert starts from each product's state at its next change. Raises LimitReached
    past ALERTS_PER_USER, or EVERY_PRODUCT_ALERTS_PER_USER for an every-product one.
    """
    _check_limit(Alert.objects.filter(owner=owner), owner=owner, what="alerts", setting="ALERTS_PER_USER")
    if product is None:
        _check_limit(
            Alert.objects.filter(owner=owner, product__isnull=True),
            owner=owner,
            what="alerts for every product",
            setting="EVERY_PRODUCT_ALERTS_PER_USER",
        )
    alert = Alert(owner=owner, endpoint=endpoint, product=product, kind=kind, threshold=threshold)
    fires = False
    if product is not None:
        Product.objects.select_for_update().filter(pk=product.pk).exists()
        summary = summarize(Offer.objects.filter(product_id=product.pk).only("price", "items_in_stock"))
        fires, state = initial_state(kind, threshold, summary)
        alert.armed, alert.reference_price, alert.in_stock = state.armed, state.reference_price, state.in_stock
    alert.save()
    if fires:
        data = _alert_data(alert, product.pk, product.name, summary, None, timezone.now(), _best_offer_now(product.pk))
        _events_create([(EventType.ALERT_TRIGGERED, data, endpoint.id)])
    return alert


def alert_delete(*, alert: Alert) -> None:
    alert.delete()


def alerts_of_deleted_product(*, product: Product) -> None:
    """Tell each alert's owner that it goes with its product: an `alert.deleted` event per alert.

    Called inside the transaction that deletes the product, before its alerts are deleted with it,
    so the events are committed with the deletion or not at all.
    """
    data = {"product": {"id": str(product.pk), "name": product.name}, "reason": "product_deleted"}
    _events_create(
        (EventType.ALERT_DELETED, {"alert": _alert_fields(alert), **data}, alert.endpoint_id)
        for alert in Alert.objects.filter(product_id=product.pk, endpoint__is_active=True)
    )


def alerts_evaluate_batch(*, changes: Sequence[OffersChanged]) -> int:
    """Evaluate the alerts of a batch of products whose offers changed; the caller holds the transaction.

    Returns how many fired. One query loads the batch's alerts with the every-product ones (and one
    more their price_drop references for these products, when there are such alerts), however
    many products the batch holds; only alerts whose state moved are written back, in one statement.
    """
    product_ids = [change.product_id for change in changes]
    alerts = list(Alert.objects.filter(Q(product_id__in=product_ids) | Q(product_id__isnull=True)))
    if not alerts:
        return 0
    of_product: dict[uuid.UUID | None, list[Alert]] = defaultdict(list)
    for alert in alerts:
        of_product[alert.product_id].append(alert)
    every_product = of_product.pop(None, [])
    stored_references: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    if every_product:
        rows = AlertReference.objects.filter(
            alert_id__in=[a.id for a in every_product], product_id__in=product_ids
        ).values_list("alert_id", "product_id", "reference_price")
        stored_references = {(alert_id, product_id): price for alert_id, product_id, price in rows}
    fired: list[tuple[Alert, OffersChanged, OfferSummary, OfferSummary]] = []
    changed_state: list[Alert] = []
    new_references: list[AlertReference] = []
    for change in changes:
        product_id = change.product_id
        product_alerts = of_product.get(product_id, [])
        if not product_alerts and not every_product:
            continue
        after = summarize(change.offers)
        before = summarize(change.offers_before())
        for alert in [*product_alerts, *every_product]:
            if alert.product_id is None:
                stored = stored_references.get((alert.id, product_id))
                reference = stored if stored is not None else before.best_price
                state = state_before(alert.kind, alert.threshold, before, reference)
            else:
                state = AlertState(armed=alert.armed, reference_price=alert.reference_price, in_stock=alert.in_stock)
            fires, new_state = evaluate(alert.kind, alert.threshold, state, after)
            if fires:
                fired.append((alert, change, after, before))
            if alert.product_id is None:
                kept = new_state.reference_price
                if alert.kind == AlertKind.PRICE_DROP and kept is not None and kept != stored:
                    reference_row = AlertReference(alert_id=alert.id, product_id=product_id, reference_price=kept)
                    new_references.append(reference_row)
            elif new_state != state:
                alert.armed = new_state.armed
                alert.reference_price = new_state.reference_price
                alert.in_stock = new_state.in_stock
                changed_state.append(alert)
    if changed_state:
        Alert.objects.bulk_update(changed_state, ["armed", "reference_price", "in_stock"])
    if new_references:
        # The products' row locks (held by the reconciler) serialise writers of these rows.
        AlertReference.objects.bulk_create(
            new_references, update_conflicts=True, unique_fields=["alert", "product"], update_fields=["reference_price"]
        )
    if fired:
        kept, also_fired_for = _bounded(fired)
        names = dict(
            Product.objects.filter(pk__in={change.product_id for _, change, _, _ in kept}).values_list("id", "name")
        )
        best_offers = _best_offers([change for _, change, _, _ in kept])
        events = []
        for index, (alert, change, after, before) in enumerate(kept):
            data = _alert_data(
                alert,
                change.product_id,
                names.get(change.product_id, ""),
                after,
                before.best_price,
                change.observed_at,
                best_offers.get(change.product_id),
            )
            if index in also_fired_for:
                data["also_fired_for"] = also_fired_for[index]
            events.append((EventType.ALERT_TRIGGERED, data, alert.endpoint_id))
        _events_create(events)
    return len(fired)


def _bounded(fired: list) -> tuple[list, dict[int, list[str]]]:
    """At most EVERY_PRODUCT_ALERT_EVENTS_PER_BATCH events per every-product alert in one batch.

    The products past it get no event of their own: their ids go, in order, into the alert's last
    kept event as `also_fired_for`, so the receiver still learns of each. Returns the kept firings
    and, by position among them, the ids each carries.
    """
    cap = settings.EVERY_PRODUCT_ALERT_EVENTS_PER_BATCH
    kept, last_kept_at, extra = [], {}, defaultdict(list)
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for item in fired:
        alert, change = item[0], item[1]
        if alert.product_id is None:
            counts[alert.id] += 1
            if counts[alert.id] > cap:
                extra[alert.id].append(str(change.product_id))
                continue
            last_kept_at[alert.id] = len(kept)
        kept.append(item)
    return kept, {last_kept_at[alert_id]: ids for alert_id, ids in extra.items()}


def _best_offers(changes: Iterable[OffersChanged]) -> dict[uuid.UUID, dict]:
    """Each product's best offer after its change (cheapest in stock), with its prior price.

    The prior prices are the ones price_history worked out earlier in this same transaction (its
    subscriber runs before this one: see docs/alerts.md).
    """
    best = {}
    for change in changes:
        in_stock = [offer for offer in change.offers if offer.items_in_stock > 0]
        if in_stock:
            best[change.product_id] = min(in_stock, key=lambda offer: (offer.price, offer.id))
    priors = {
        offer_id: (lowest, since)
        for offer_id, lowest, since in PriorPrice.objects.filter(
            offer_id__in=[offer.id for offer in best.values()]
        ).values_list("offer_id", "lowest_price", "lowest_price_since")
    }
    return {
        product_id: _offer_data(offer.id, offer.price, offer.items_in_stock, *priors.get(offer.id, (None, None)))
        for product_id, offer in best.items()
    }


def _best_offer_now(product_id: uuid.UUID) -> dict | None:
    """The product's best offer as stored now (cheapest in stock), with its prior price."""
    row = (
        Offer.objects.filter(product_id=product_id, items_in_stock__gt=0)
        .order_by("price", "id")
        .values_list("id", "price", "items_in_stock", "prior__lowest_price", "prior__lowest_price_since")
        .first()
    )
    return _offer_data(*row) if row else None


def _offer_data(offer_id, price: int, items_in_stock: int, prior_price: int | None, prior_since) -> dict:
    return {
        "id": str(offer_id),
        "price": price,
        "items_in_stock": items_in_stock,
        "prior_price": prior_price,
        "prior_price_since": prior_since.isoformat() if prior_since else None,
    }


def _alert_fields(alert: Alert) -> dict:
    return {
        "id": str(alert.id),
        "kind": alert.kind,
        "threshold": alert.threshold,
        "product_id": str(alert.product_id) if alert.product_id else None,
    }


def _alert_data(
    alert: Alert,
    product_id: uuid.UUID,
    product_name: str,
    summary: OfferSummary,
    previous_best_price: int | None,
    observed_at: datetime,
    best_offer: dict | None,
) -> dict:
    return {
        "alert": _alert_fields(alert),
        "product": {"id": str(product_id), "name": product_name},
        "currency": settings.CURRENCY,
        "best_price": summary.best_price,
        "previous_best_price": previous_best_price,
        "best_offer": best_offer,
        "offers_in_stock": summary.offers_in_stock,
        "observed_at": observed_at.isoformat(),
    }


# -- events and deliveries -------------------------------------------------------------------


def _events_create(events: Iterable[tuple[str, dict, uuid.UUID]]) -> list[Delivery]:
    """Write each (type, data, endpoint id) as an event with its delivery, due now.

    Events for a disabled endpoint are left out: it gets nothing new while disabled (its alerts
    still follow the offers, so it starts from the state of the day when enabled again).
    """
    events = list(events)
    if not events:
        return []
    active = set(
        WebhookEndpoint.objects.filter(
            id__in={endpoint_id for _, _, endpoint_id in events}, is_active=True
        ).values_list("id", flat=True)
    )
    now = timezone.now()
    rows, deliveries = [], []
    for event_type, data, endpoint_id in events:
        # A model's endpoint_id set from a string (as a test or a bench may) is still that string.
        if uuid.UUID(str(endpoint_id)) not in active:
            continue
        event_id = uuid.uuid4()
        body = json.dumps(
            {"id": str(event_id), "type": event_type, "created_at": now.isoformat(), "data": data},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        rows.append(WebhookEvent(id=event_id, type=event_type, body=body, created_at=now))
        deliveries.append(Delivery(event_id=event_id, endpoint_id=endpoint_id, next_attempt_at=now, created_at=now))
    WebhookEvent.objects.bulk_create(rows)
    Delivery.objects.bulk_create(deliveries)
    return deliveries


def deliveries_retry_now(*, deliveries) -> int:
    """Make the given deliveries due now (failed ones pending again, for one more attempt)."""
    now = timezone.now()
    # Not one a worker holds right now (claimed, lease running): it would be sent twice at once.
    held = Q(claim__isnull=False, next_attempt_at__gt=now)
    return (
        deliveries.exclude(status=DeliveryStatus.DELIVERED)
        .exclude(held)
        .update(status=DeliveryStatus.PENDING, next_attempt_at=now, claim=None)
    )


# -- retention -------------------------------------------------------------------------------


def webhook_history_cutoff(*, now: datetime) -> datetime | None:
    """History created before this is past retention; None when it is kept (WEBHOOK_HISTORY_DAYS=0)."""
    return retention_cutoff(now=now, days=settings.WEBHOOK_HISTORY_DAYS)


@dataclass(frozen=True)
class PrunedHistory:
    deliveries: int = 0
    events: int = 0


def webhook_history_prune(
    *,
    older_than: datetime,
    batch_size: int = 1000,
    should_stop: Callable[[], bool] = lambda: False,
) -> PrunedHistory:
    """Delete deliveries created before `older_than`, with their attempts, then the events left
    without any delivery; return how many of each went.

    Pending deliveries that old go too (one of an endpoint disabled for that long would otherwise
    wait forever), but not one a worker holds right now. Each batch is its own short transaction
    (the caller must not wrap this in one), and `should_stop` is asked after each batch.
    """
    old = Delivery.objects.filter(created_at__lt=older_than)
    held = Q(claim__isnull=False, next_attempt_at__gt=timezone.now())
    # Two passes, each along its own partial index (finished rows; pending rows).
    passes = [
        old.exclude(status=DeliveryStatus.PENDING),
        old.filter(status=DeliveryStatus.PENDING).exclude(held),
    ]
    deliveries = 0
    for candidates in passes:
        while True:
            with transaction.atomic():
                batch = candidates.order_by("created_at", "id")
                if connection.features.has_select_for_update_skip_locked:
                    # Locked, so a "retry now" or a claim of one of them waits, then finds it gone.
                    batch = batch.select_for_update(skip_locked=True)
                ids = list(batch.values_list("id", flat=True)[:batch_size])
                if not ids:
                    break
                # The conditions are checked again by the delete itself (no row locks on SQLite).
                _, per_model = candidates.filter(id__in=ids).delete()  # and their attempts
                deliveries += per_model.get(Delivery._meta.label, 0)
            if should_stop():
                return PrunedHistory(deliveries=deliveries)
    # Events are written with all their deliveries at once, so an old event without any is done
    # with. Paged by a cursor: those still waiting on a pending delivery are passed only once.
    orphans = (
        WebhookEvent.objects.filter(created_at__lt=older_than)
        .exclude(Exists(Delivery.objects.filter(event_id=OuterRef("pk"))))
        .values_list("created_at", "id")
    )
    events, after = 0, None
    while True:
        rows = keyset_page(orphans, "created_at", after=after, limit=batch_size)
        if not rows:
            break
        after = rows[-1]
        _, per_model = WebhookEvent.objects.filter(id__in=[event_id for _, event_id in rows]).delete()
        events += per_model.get(WebhookEvent._meta.label, 0)
        if should_stop():
            break
    return PrunedHistory(deliveries=deliveries, events=events)
