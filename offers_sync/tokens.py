"""The offers service's access token, kept in the database and shared by every process.

The service hands out one access token at a time: asking for another while the last is valid is
refused (400 "another is valid"). So a token must outlive the process that got it, and only one
process may ask for the next one. The `AccessToken` row holds the token; a conditional update
elects the one process that calls /auth, and the others wait for its result:

- the claim is a compare-and-set on the row's `version`, which every change of the token bumps, so
  a process claims only if the token it saw expire is still the current one;
- the claim names the attempt holding it (`refresh_claimed_by`), and every release is an update
  conditional on that name, so an attempt whose claim lapsed cannot clear its successor's;
- a token issued but not stored (the database failed between /auth and the write) is kept in
  memory and used, and a background thread retries the store with backoff until it lands or the
  token expires. Losing it instead would make every process wait out a token nobody has.

No database transaction is open during the HTTP call, and the call ends by its deadline
(REFRESH_DEADLINE_SECONDS, or the caller's if sooner), so neither lock nor claim outlives it.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from aggregator import outgoing_http
from offers_sync.client import (
    AccessTokenStillValid,
    IssuedAccessToken,
    OffersServiceClient,
    wait_without_interruption,
)
from offers_sync.models import AccessToken

logger = logging.getLogger(__name__)

# A token is not handed out in its last moments: a request sent then could arrive after expiry.
EXPIRY_MARGIN = timedelta(seconds=2)
# After expiry, give the service's clock a moment before asking for the next token.
CLOCK_SKEW = timedelta(milliseconds=500)
# How long an elected refresher may take before others may try in its place.
REFRESH_CLAIM_TTL = timedelta(seconds=30)
# The /auth call, its retries included, ends within this (aggregator.outgoing_http), well inside
# the claim: the in-process lock and the claim are never held past it by a slow service.
REFRESH_DEADLINE_SECONDS = 20.0
# After "another is valid" with no known expiry (a token we lost), ask again this often.
LOST_TOKEN_PROBE_INTERVAL = timedelta(seconds=15)
POLL_INTERVAL_SECONDS = 0.2
# Waiters look at the row at least this often, so a token stored meanwhile (one kept in another
# process's memory through a database blink) is picked up well before the next /auth probe.
MAX_POLL_INTERVAL_SECONDS = 1.0
# Backoff of the retried store of a token the database could not take: 0.5 s, 1 s, 2 s … 5 s.
STORE_RETRY_FIRST_SECONDS = 0.5
STORE_RETRY_MAX_SECONDS = 5.0
STORE_RETRY_THREAD = "access-token-store"


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
    abandon waiting (the worker's stop event); the retried store of an unstored token waits with it
    too, and gives up after one last attempt when told to stop.
    """

    def __init__(
        self,
        client: OffersServiceClient,
        refresh_token: str,
        *,
        max_wait_seconds: float = 10.0,
        wait: Callable[[float], bool] = wait_without_interruption,
        now: Callable[[], datetime] = timezone.now,
    ):
        self._client = client
        self._refresh_token = refresh_token
        self._max_wait = timedelta(seconds=max_wait_seconds)
        self._wait = wait
        self._now = now
        self._lock = threading.Lock()
        self._token = ""
        self._expires_at: datetime | None = None
        # An issued token waiting to be stored (a thread of its own retries the store).
        self._unstored_lock = threading.Lock()
        self._unstored: IssuedAccessToken | None = None

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
            with self._unstored_lock:
                if self._unstored is not None and self._unstored.token == token:
                    self._unstored = None  # storing it later would hand a dead token to the others
            now = self._now()
            AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID, token=token).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            ).update(expires_at=now, version=F("version") + 1)

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
            if now >= not_before:
                attempt = self._claim_refresh(seen_version=row.version, now=now)
                if attempt:
                    token = self._refresh(attempt)
                    if token:
                        return token
                    continue
            self._pause_until(not_before, deadline)

    def _claim_refresh(self, *, seen_version: int, now: datetime) -> str | None:
        """Claim the refresh if the row is as we saw it and nobody holds a live claim; the attempt's id."""
        attempt = uuid.uuid4().hex
        claimed = (
            AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID, version=seen_version)
            .filter(Q(refresh_claimed_until__isnull=True) | Q(refresh_claimed_until__lt=now))
            .update(refresh_claimed_by=attempt, refresh_claimed_until=now + REFRESH_CLAIM_TTL)
        )
        return attempt if claimed == 1 else None

    def _refresh(self, attempt: str) -> str | None:
        """Ask /auth for a token (`attempt` holds the claim). None when told to wait for the old one."""
        ours = AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID, refresh_claimed_by=attempt)
        try:
            with outgoing_http.deadline(REFRESH_DEADLINE_SECONDS):
                issued = self._client.issue_access_token(self._refresh_token)
        except AccessTokenStillValid:
            # A token we don't have (a lost row, another deployment) is still valid; it expires
            # within the token lifetime. Probe now and then rather than hammering /auth.
            blocked_until = self._now() + LOST_TOKEN_PROBE_INTERVAL
            ours.update(
                refresh_claimed_by="",
                refresh_claimed_until=None,
                auth_blocked_until=blocked_until,
                version=F("version") + 1,
            )
            logger.warning(
                "offers service: another access token is still valid; waiting for it to expire "
                "(up to 5 minutes), next try at %s",
                blocked_until.isoformat(timespec="seconds"),
            )
            return None
        except BaseException:
            ours.update(refresh_claimed_by="", refresh_claimed_until=None)
            raise
        # From here on the token exists only in this process until it is stored: keep it first.
        self._token, self._expires_at = issued.token, issued.expires_at
        logger.info("offers service: new access token, valid until %s", issued.expires_at.isoformat())
        try:
            _store(issued, attempt=attempt, now=self._now())
        except DatabaseError as exc:
            logger.warning(
                "could not store the new access token (%s); using it from memory and retrying the store",
                type(exc).__name__,
            )
            self._retry_store_in_background(issued, attempt)
        else:
            with self._unstored_lock:
                self._unstored = None  # an older token still waiting to be stored is superseded
        return issued.token

    def _retry_store_in_background(self, issued: IssuedAccessToken, attempt: str) -> None:
        with self._unstored_lock:
            self._unstored = issued
        threading.Thread(target=self._retry_store, args=(issued, attempt), name=STORE_RETRY_THREAD, daemon=True).start()

    def _retry_store(self, issued: IssuedAccessToken, attempt: str) -> None:
        delay = STORE_RETRY_FIRST_SECONDS
        try:
            while True:
                stopping = self._wait(delay)
                with self._unstored_lock:
                    if self._unstored is not issued:
                        return  # refused by the service, or superseded by a newer token
                if self._now() >= issued.expires_at:
                    logger.warning("gave up storing the access token: it expired before the database came back")
                    return
                close_old_connections()  # a connection broken by the outage is replaced
                try:
                    _store(issued, attempt=attempt, now=self._now())
                except DatabaseError as exc:
                    if stopping:
                        logger.warning("stopping before the access token could be stored (%s)", type(exc).__name__)
                        return
                    delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
                    continue
                logger.info("stored the access token after a database failure")
                return
        finally:
            with self._unstored_lock:
                if self._unstored is issued:
                    self._unstored = None
            connection.close()

    def _pause_until(self, not_before: datetime, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TokenUnavailable("no access token available yet", available_at=not_before)
        pause = (not_before - self._now()).total_seconds()
        pause = min(max(pause, POLL_INTERVAL_SECONDS), MAX_POLL_INTERVAL_SECONDS, remaining)
        if self._wait(pause):
            raise TokenUnavailable("stopped while waiting for an access token", available_at=not_before)


def _store(issued: IssuedAccessToken, *, attempt: str, now: datetime) -> None:
    """Store an issued token unless the row holds a newer one, and release `attempt`'s claim.

    Safe to repeat: a retry after a store that did commit (its answer lost) changes nothing.
    """
    with transaction.atomic():
        AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID).filter(
            Q(expires_at__isnull=True) | Q(expires_at__lt=issued.expires_at)
        ).update(
            token=issued.token,
            expires_at=issued.expires_at,
            auth_blocked_until=None,
            version=F("version") + 1,
            updated_at=now,
        )
        AccessToken.objects.filter(pk=AccessToken.SINGLETON_ID, refresh_claimed_by=attempt).update(
            refresh_claimed_by="", refresh_claimed_until=None
        )


def _load_row() -> AccessToken:
    # The data migration creates it; `create` covers a database restored without it.
    return AccessToken.objects.get_or_create(pk=AccessToken.SINGLETON_ID)[0]
