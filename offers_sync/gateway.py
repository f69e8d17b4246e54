"""The offers service as the rest of the code uses it: a client plus the shared access token.

Built from settings. The web process gets one with short deadlines and no retries (it answers a
user who is waiting; the worker will retry later); the worker gets one sized to its concurrency,
each call bounded by OFFERS_TIMEOUT.
"""

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from offers_sync.client import OfferData, OffersServiceClient, wait_without_interruption
from offers_sync.metrics import InstrumentedOffersServiceClient
from offers_sync.tokens import DatabaseTokenSource


@dataclass
class OffersService:
    client: OffersServiceClient
    tokens: DatabaseTokenSource

    def get_offers(self, product_id: uuid.UUID) -> list[OfferData]:
        return self.client.get_offers(self.tokens, product_id)

    def register(self, *, product_id: uuid.UUID, name: str, description: str | None) -> None:
        self.client.register_product(self.tokens, product_id=product_id, name=name, description=description or "")


def is_configured() -> bool:
    return bool(settings.OFFERS_SERVICE_URL and settings.OFFERS_REFRESH_TOKEN)


# The web process answers a user who is waiting: one call may take this long, whatever the service
# does, and waiting for another thread or process to renew the access token this long.
WEB_CALL_SECONDS = 2.0
WEB_TOKEN_WAIT_SECONDS = 1.0

_web_service: OffersService | None = None
_web_service_lock = threading.Lock()


def offers_service_for_web() -> OffersService | None:
    """The web process's shared instance (pooled connections), or None when not configured."""
    global _web_service
    if not is_configured():
        return None
    with _web_service_lock:
        if _web_service is None or _web_service.client.base_url != settings.OFFERS_SERVICE_URL:
            client = OffersServiceClient(
                settings.OFFERS_SERVICE_URL,
                pool_size=4,
                connect_timeout=WEB_CALL_SECONDS,
                read_timeout=WEB_CALL_SECONDS,
                attempt_seconds=WEB_CALL_SECONDS,
                max_attempts=1,
            )
            tokens = DatabaseTokenSource(client, settings.OFFERS_REFRESH_TOKEN, max_wait_seconds=WEB_TOKEN_WAIT_SECONDS)
            _web_service = OffersService(client=client, tokens=tokens)
        return _web_service


def offers_service_for_worker(
    *, concurrency: int, wait: Callable[[float], bool] = wait_without_interruption
) -> OffersService:
    # Counted and timed for the worker's metrics (offers_sync.metrics).
    client = InstrumentedOffersServiceClient(
        settings.OFFERS_SERVICE_URL,
        pool_size=concurrency,
        read_timeout=min(5.0, settings.OFFERS_TIMEOUT),
        attempt_seconds=settings.OFFERS_TIMEOUT,
        wait=wait,
    )
    tokens = DatabaseTokenSource(client, settings.OFFERS_REFRESH_TOKEN, max_wait_seconds=10.0, wait=wait)
    return OffersService(client=client, tokens=tokens)
