"""The shared access token: reuse, refresh on expiry and 401, one refresher across processes, waiting
out a lost token, keeping a token the database could not take at once."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.db import OperationalError
from django.db.models import QuerySet

from offers_sync import tokens as tokens_module
from offers_sync.client import OffersServiceClient, PermanentError, RefreshTokenRejected
from offers_sync.models import AccessToken
from offers_sync.tests.factories import make_access_token, store_token
from offers_sync.tokens import REFRESH_CLAIM_TTL, STORE_RETRY_THREAD, DatabaseTokenSource, TokenUnavailable

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
        store_token(token=theirs, expires_at=clock.now + timedelta(seconds=300), refresh_claimed_until=None)
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


ANOTHER_VALID = {"detail": "Cannot generate access token because another is valid"}


@responses.activate
def test_a_process_that_saw_the_token_expire_does_not_renew_it_once_another_has(clock, waits, monkeypatch):
    old = token_expiring(clock, 300)
    store_token(token=old, expires_at=clock.now + timedelta(seconds=300))
    clock.now += timedelta(seconds=301)
    new = token_expiring(clock, 300)
    responses.post(AUTH, status=201, json={"access_token": new})
    responses.post(AUTH, status=400, json=ANOTHER_VALID)
    slow, quick = source(clock, waits), source(clock, waits)
    real_load = tokens_module._load_row

    def quick_renews_after_slow_has_read_the_row():
        row = real_load()
        monkeypatch.setattr(tokens_module, "_load_row", real_load)
        assert quick.get() == new
        return row

    monkeypatch.setattr(tokens_module, "_load_row", quick_renews_after_slow_has_read_the_row)
    assert slow.get() == new
    assert len(responses.calls) == 1  # the slow one saw the renewed token instead of asking again
    assert stored().token == new
    assert stored().auth_blocked_until is None


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_process_whose_claim_lapsed_does_not_release_the_claim_of_the_one_that_took_over(clock, waits):
    renewed = token_expiring(clock, 600)
    successor_calling, successor_may_finish = threading.Event(), threading.Event()
    slow, successor, third = source(clock, waits), source(clock, waits), source(clock, waits)
    successor_got = []

    def successor_renews():
        from django.db import connection

        try:
            successor_got.append(successor.get())
        finally:
            connection.close()

    successor_thread = threading.Thread(target=successor_renews)
    calls = []

    def auth(request):
        calls.append(request)
        if len(calls) == 1:  # the slow process: its claim lapses, another takes over, then it fails
            clock.now += REFRESH_CLAIM_TTL + timedelta(seconds=1)
            successor_thread.start()
            assert successor_calling.wait(timeout=30)
            return 403, {}, '{"detail": "forbidden"}'
        if len(calls) == 2:  # the successor, still waiting for its answer
            successor_calling.set()
            successor_may_finish.wait(timeout=30)
            return 201, {}, json.dumps({"access_token": renewed})
        return 400, {}, json.dumps(ANOTHER_VALID)

    responses.add_callback(responses.POST, AUTH, callback=auth)
    with pytest.raises(PermanentError):
        slow.get()

    def third_waits(seconds):
        successor_may_finish.set()
        successor_thread.join()
        return False

    third._wait = third_waits
    try:
        assert third.get() == renewed
    finally:
        successor_may_finish.set()
        if successor_thread.is_alive():
            successor_thread.join()
    assert successor_got == [renewed]
    assert len(calls) == 2  # the third process waited for the successor instead of asking too
    assert stored().token == renewed


def store_retried_to_the_end() -> bool:
    """Wait for the threads retrying the store of a token: each stored it, or gave it up."""
    retrying = [thread for thread in threading.enumerate() if thread.name == STORE_RETRY_THREAD]
    for thread in retrying:
        thread.join(timeout=30)
    return not any(thread.is_alive() for thread in retrying)


class DatabaseBlink:
    """Writes of a new token to the row fail while `down` is set, as when the database restarts."""

    def __init__(self, monkeypatch):
        self.down = True
        self.failed = 0
        real_update = QuerySet.update

        def update(queryset, **fields):
            if self.down and queryset.model is AccessToken and "token" in fields:
                self.failed += 1
                raise OperationalError("server closed the connection unexpectedly")
            return real_update(queryset, **fields)

        monkeypatch.setattr(QuerySet, "update", update)


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_token_issued_while_the_database_blinks_is_used_from_memory_and_stored_later(clock, monkeypatch):
    issued = token_expiring(clock, 300)
    responses.post(AUTH, status=201, json={"access_token": issued})
    responses.post(AUTH, status=400, json=ANOTHER_VALID)
    blink, back = DatabaseBlink(monkeypatch), threading.Event()

    def wait(seconds):  # the retry's backoff lasts until the database is back
        back.wait(timeout=30)
        clock.now += timedelta(seconds=seconds)
        return False

    client = OffersServiceClient(BASE, wait=lambda s: False)
    tokens = DatabaseTokenSource(client, "refresh", max_wait_seconds=600, wait=wait, now=clock)
    assert tokens.get() == issued
    assert tokens.get() == issued  # meanwhile this process goes on with it
    assert blink.failed == 1
    assert stored().token != issued

    blink.down = False
    back.set()
    assert store_retried_to_the_end()
    assert stored().token == issued
    assert stored().refresh_claimed_until is None  # nobody is kept waiting for a claim
    another_process = DatabaseTokenSource(client, "refresh", max_wait_seconds=1, wait=wait, now=clock)
    assert another_process.get() == issued
    assert len(responses.calls) == 1


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_an_unstored_token_the_service_refused_is_not_stored_later(clock, waits, monkeypatch):
    issued = token_expiring(clock, 300)
    responses.post(AUTH, status=201, json={"access_token": issued})
    blink, back = DatabaseBlink(monkeypatch), threading.Event()

    def wait(seconds):
        back.wait(timeout=30)
        return waits(seconds)

    tokens = DatabaseTokenSource(OffersServiceClient(BASE), "refresh", max_wait_seconds=600, wait=wait, now=clock)
    assert tokens.get() == issued
    tokens.invalidate(issued)  # a 401: the service does not know it after all
    blink.down = False
    back.set()
    assert store_retried_to_the_end()
    assert stored().token != issued
