"""The alert kinds and their transition rules, as pure functions of offer sets (no database).

Best price: the lowest price among the offers with `items_in_stock > 0`; None when none is in stock.
Each rule takes the alert's state before an evaluation and the offers after it, and returns
whether it fires and the state to keep.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

from alerts.models import AlertKind
from offers_sync.client import OfferData


@dataclass(frozen=True, slots=True)
class OfferSummary:
    best_price: int | None
    offers_in_stock: int

    @property
    def in_stock(self) -> bool:
        return self.offers_in_stock > 0


def summarize(offers: Iterable[OfferData]) -> OfferSummary:
    prices = [offer.price for offer in offers if offer.items_in_stock > 0]
    return OfferSummary(best_price=min(prices) if prices else None, offers_in_stock=len(prices))


@dataclass(frozen=True, slots=True)
class AlertState:
    armed: bool = True  # price_below: the condition did not hold at the previous evaluation
    reference_price: int | None = None  # price_drop
    in_stock: bool | None = None  # back_in_stock, out_of_stock


def price_below_holds(threshold: int, summary: OfferSummary) -> bool:
    return summary.best_price is not None and summary.best_price <= threshold


def initial_state(kind: str, threshold: int | None, now: OfferSummary) -> tuple[bool, AlertState]:
    """The state of a new alert for a product whose offers are `now`, and whether it fires at once.

    Only `price_below` fires at creation (its condition already holding is news to the subscriber);
    the stock kinds start from the product's state and fire on its next change.
    """
    if kind == AlertKind.PRICE_BELOW:
        holds = price_below_holds(threshold, now)
        return holds, AlertState(armed=not holds)
    if kind == AlertKind.PRICE_DROP:
        return False, AlertState(reference_price=now.best_price)
    return False, AlertState(in_stock=now.in_stock)


def evaluate(kind: str, threshold: int | None, state: AlertState, now: OfferSummary) -> tuple[bool, AlertState]:
    """Whether the alert fires for offers now summarized as `now`, and its next state."""
    if kind == AlertKind.PRICE_BELOW:
        holds = price_below_holds(threshold, now)
        return holds and state.armed, replace(state, armed=not holds)
    if kind == AlertKind.PRICE_DROP:
        best, reference = now.best_price, state.reference_price
        if best is None:
            return False, state
        if reference is None or best >= reference:
            return False, replace(state, reference_price=best)
        # b <= reference × (100 − threshold) / 100, in integers.
        if best * 100 <= reference * (100 - threshold):
            return True, replace(state, reference_price=best)
        return False, state
    if kind == AlertKind.BACK_IN_STOCK:
        was = bool(state.in_stock)
        return (not was) and now.in_stock, replace(state, in_stock=now.in_stock)
    if kind == AlertKind.OUT_OF_STOCK:
        # None (never seen) counts as out of stock: a product's first offers are not a fall.
        was = bool(state.in_stock)
        return was and not now.in_stock, replace(state, in_stock=now.in_stock)
    raise ValueError(f"unknown alert kind {kind!r}")


def state_before(kind: str, threshold: int | None, before: OfferSummary, reference_price: int | None) -> AlertState:
    """An every-product alert's state for one product, rebuilt from its offers before the change.

    The previous evaluation of that product saw exactly these offers, so this is the state a
    per-product alert would hold; only price_drop's reference needs a stored row.
    """
    return AlertState(
        armed=not price_below_holds(threshold, before) if kind == AlertKind.PRICE_BELOW else True,
        reference_price=reference_price,
        in_stock=before.in_stock,
    )
