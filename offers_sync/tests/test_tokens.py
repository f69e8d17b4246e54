"""The shared access token: reuse, refresh on expiry and 401, one refresher, waiting out a lost token."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import responses

from offers_sync.client import OffersServiceClient, RefreshTokenRejected
from offers_sync.models import AccessToken
from offers_sync.tests.factories import make_access_token, store_token
from offers_sync.tokens import DatabaseTokenSource, TokenUnavailable

pytestmark = pytest.mark.django_db
BASE = "http://offers.test"
AUTH = f"{BASE}/api/v1/auth"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def waits(clock):
    """Waiting moves the fake clock forward instead of sleeping."""
    seen = []

    def wait(seconds):
        seen.append(seconds)
        clock.now += timedelta(seconds=seconds)
        return False

    wait.seen = seen
    return wait


def source(clock, waits, max_wait=600):
    client = OffersServiceClient(BASE, wait=lambda s: False)
    return DatabaseTokenSource(client, "refresh", max_wait_seconds=max_wait, wait=waits, now=clock)


def token_expiring(clock, seconds=300):
    return make_access_token(expires=(clock.now + timedelta(seconds=seconds)).timestamp())


def stored() -> AccessToken:
    return AccessToken.objects.get(pk=AccessToken.SINGLETON_ID)


@responses.activate
def test_first_get_asks_auth_and_stores_the_token(clock, waits):
    token = token_expiring(clock)
    responses.post(AUTH, status=201, json={"access_token": token})
    assert source(clock, waits).get() == token
    assert stored().token == token
    assert stored().expires_at == (clock.now + timedelta(seconds=300)).replace(microsecond=0)


@responses.activate
def test_token_is_reused_across_processes_until_it_expires(clock, waits):
    token = token_expiring(clock)
    responses.post(AUTH, status=201, json={"access_token": token})
    source(clock, waits).get()
    another_process = source(clock, waits)
    clock.now += timedelta(seconds=290)
    assert another_process.get() == token
    assert len(responses.calls) == 1


@responses.activate
def test_expired_token_is_replaced_after_its_expiry_not_before(clock, waits):
    first = token_expiring(clock, 300)
    store_token(token=first, expires_at=clock.now + timedelta(seconds=300))
    clock.now += timedelta(seconds=299)  # inside the safety margin: don't use it, don't ask yet
    second = token_expiring(clock, 301)
    responses.post(AUTH, status=201, json={"access_token": second})
    assert source(clock, waits).get() == second
    asked_at = clock.now
    assert asked_at > datetime(2026, 1, 1, 12, 5, tzinfo=UTC)  # after the old one expired
    assert len(responses.calls) == 1


@responses.activate
def test_invalidate_after_401_gets_a_new_token(clock, waits):
    old = token_expiring(clock)
    store_token(token=old, expires_at=clock.now + timedelta(seconds=300))
    new = token_expiring(clock, 600)
    responses.post(AUTH, status=201, json={"access_token": new})
    tokens = source(clock, waits)
    assert tokens.get() == old
    tokens.invalidate(old)
    assert tokens.get() == new
    assert stored().token == new


@responses.activate
def test_another_valid_is_waited_out_by_probing_sparingly(clock, waits):
    # The row lost its token (e.g. restored database) while the service still has one valid.
    responses.post(AUTH, status=400, json={"detail": "Cannot generate access token because another is valid"})
    responses.post(AUTH, status=400, json={"detail": "Cannot generate access token because another is valid"})
    fresh = token_expiring(clock, 600)
    responses.post(AUTH, status=201, json={"access_token": fresh})
    started = clock.now
    assert source(clock, waits).get() == fresh
    assert len(responses.calls) == 3
    assert clock.now - started >= timedelta(seconds=30)  # two probe intervals, not a busy loop


@responses.activate
def test_gives_up_with_a_time_when_the_wait_is_longer_than_allowed(clock, waits):
    responses.post(AUTH, status=400, json={"detail": "another is valid"})
    with pytest.raises(TokenUnavailable) as caught:
        source(clock, waits, max_wait=1).get()
    assert caught.value.available_at is not None
    assert stored().refresh_claimed_until is None  # the claim is released for others


@responses.activate
def test_rejected_refresh_token_is_reported_and_claim_released(clock, waits):
    responses.post(AUTH, status=401, json={"detail": "bad token"})
    with pytest.raises(RefreshTokenRejected):
        source(clock, waits).get()
    assert stored().refresh_claimed_until is None


@responses.activate
def test_while_another_process_refreshes_we_wait_for_its_token(clock, waits):
    store_token(refresh_claimed_until=clock.now + timedelta(seconds=30))
    theirs = token_expiring(clock, 300)

    def other_process_finishes(seconds):
        store_token(
            token=theirs, expires_at=clock.now + timedelta(seconds=300), refresh_claimed_until=None
        )
        return False

    client = OffersServiceClient(BASE)
    tokens = DatabaseTokenSource(client, "refresh", max_wait_seconds=5, wait=other_process_finishes, now=clock)
    assert tokens.get() == theirs
    assert len(responses.calls) == 0


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_many_threads_needing_a_token_ask_auth_once():
    token = make_access_token()
    responses.post(AUTH, status=201, json={"access_token": token})
    tokens = DatabaseTokenSource(OffersServiceClient(BASE), "refresh", max_wait_seconds=10)
    results, start = [], threading.Barrier(8)

    def worker():
        from django.db import connection

        start.wait()
        try:
            results.append(tokens.get())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [token] * 8
    assert len(responses.calls) == 1
