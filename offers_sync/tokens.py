"""The offers service's access token, kept in the database and shared by every process.

The service hands out one access token at a time: asking for another while the last is valid is
refused (400 "another is valid"). So a token must outlive the process that got it, and only one
process may ask for the next one. The `AccessToken` row holds the token; a conditional update on
`refresh_claimed_until` elects the one process that calls /auth; the others wait for its result.
No database transaction is open during the HTTP call.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from offers_sync.client import AccessTokenStillValid, OffersServiceClient
from offers_sync.models import AccessToken

logger = logging.getLogger(__name__)

# A token is not handed out in its last moments: a request sent then could arrive after expiry.
EXPIRY_MARGIN = timedelta(seconds=2)
# After expiry, give the service's clock a moment before asking for the next token.
CLOCK_SKEW = timedelta(milliseconds=500)
# How long an elected refresher may take before others may try in its place.
REFRESH_CLAIM_TTL = timedelta(seconds=30)
# After "another is valid" with no known expiry (a token we lost), ask again this often.
LOST_TOKEN_PROBE_INTERVAL = timedelta(seconds=15)
POLL_INTERVAL_SECONDS = 0.2


class TokenUnavailable(Exception):
    """No access token can be had right now; `available_at` says when to try again, if known."""

    def __init__(self, message: str, available_at: datetime | None = None):
        super().__init__(message)
        self.available_at = available_at


class DatabaseTokenSource:
    """A `TokenSource` (see offers_sync.client) backed by the shared AccessToken row.

    Threads of one process share an in-memory copy and take turns (a lock) when it has to be
    renewed. `max_wait_seconds` bounds how long `get()` blocks before raising TokenUnavailable:
    short for the web process, longer for the worker. `wait(seconds) -> bool` returns True to
    abandon waiting (the worker's stop event).
    """

    def __init__(
        self,
        client: OffersServiceClient,
        refresh_token: str,
        *,
        max_wait_seconds: float = 10.0,
        wait: Callable[[float], bool] | None = None,
        now: Callable[[], datetime] = timezone.now,
    ):
        self._client = client
        self._refresh_token = refresh_token
        self._max_wait = timedelta(seconds=max_wait_seconds)
        self._wait = wait or _sleep
        self._now = now
        self._lock = threading.Lock()
        self._token = ""
        self._expires_at: datetime | None = None

    def get(self) -> str:
        deadline = time.monotonic() + self._max_wait.total_seconds()
        if not self._lock.acquire(timeout=self._max_wait.total_seconds()):
            raise TokenUnavailable("timed out waiting for another thread to renew the access token")
        try:
            if self._usable(self._token, self._expires_at):
                return self._token
            return self._get_shared(deadline)
        finally:
            self._lock.release()

    def invalidate(self, token: str) -> None:
        """The service answered 401 to `token`: it expired or the service forgot it."""
        with self._lock:
            if self._token == token:
                self._token, self._expires_at = "", None
            now = self._now()
            AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID, token=token).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            ).update(expires_at=now)

    def _usable(self, token: str, expires_at: datetime | None) -> bool:
        return bool(token) and expires_at is not None and self._now() < expires_at - EXPIRY_MARGIN

    def _get_shared(self, deadline: float) -> str:
        while True:
            row = _load_row()
            if self._usable(row.token, row.expires_at):
                self._token, self._expires_at = row.token, row.expires_at
                return row.token
            now = self._now()
            # Asking /auth before the old token has expired would only be refused.
            not_before = max(
                (t for t in (row.auth_blocked_until, row.expires_at and row.expires_at + CLOCK_SKEW) if t),
                default=now,
            )
            if now >= not_before and self._claim_refresh(now):
                token = self._refresh()
                if token:
                    return token
                continue
            self._pause_until(not_before, deadline)

    def _claim_refresh(self, now: datetime) -> bool:
        claimed = (
            AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID)
            .filter(Q(refresh_claimed_until__isnull=True) | Q(refresh_claimed_until__lt=now))
            .update(refresh_claimed_until=now + REFRESH_CLAIM_TTL)
        )
        return claimed == 1

    def _refresh(self) -> str | None:
        """Ask /auth for a token (we hold the claim). None when told to wait for the old one."""
        try:
            issued = self._client.issue_access_token(self._refresh_token)
        except AccessTokenStillValid:
            # A token we don't have (a lost row, another deployment) is still valid; it expires
            # within the token lifetime. Probe now and then rather than hammering /auth.
            blocked_until = self._now() + LOST_TOKEN_PROBE_INTERVAL
            AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID).update(
                refresh_claimed_until=None, auth_blocked_until=blocked_until
            )
            logger.warning(
                "offers service: another access token is still valid; waiting for it to expire "
                "(up to 5 minutes), next try at %s",
                blocked_until.isoformat(timespec="seconds"),
            )
            return None
        except BaseException:
            AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID).update(refresh_claimed_until=None)
            raise
        AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID).update(
            token=issued.token,
            expires_at=issued.expires_at,
            refresh_claimed_until=None,
            auth_blocked_until=None,
            updated_at=self._now(),
        )
        logger.info("offers service: new access token, valid until %s", issued.expires_at.isoformat())
        self._token, self._expires_at = issued.token, issued.expires_at
        return issued.token

    def _pause_until(self, not_before: datetime, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TokenUnavailable("no access token available yet", available_at=not_before)
        pause = (not_before - self._now()).total_seconds()
        pause = min(max(pause, POLL_INTERVAL_SECONDS), remaining)
        if self._wait(pause):
            raise TokenUnavailable("stopped while waiting for an access token", available_at=not_before)


def _load_row() -> AccessToken:
    row = AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID).first()
    if row is None:
        # The data migration creates it; this covers a database restored without it.
        row, _ = AccessToken.objects.get_or_create(pk=AccessToken.SINGLETON_ID)
    return row


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False
