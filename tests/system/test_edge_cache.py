"""The caching proxy as operators run it: a real nginx with deploy/nginx/aggregator.conf in front of gunicorn.

Checks what the cache headers promise once a shared cache acts on them: public reads are kept and
served within their lifetime, a change shows within that lifetime, a token holder's answers are
never stored nor served to anyone else, a writer reads its own write at once, and with the web
processes stopped the kept keys are still answered (stale) while others fail.

Skipped where nginx is not installed (Debian: nginx-light). About 15 seconds.
"""

import time

import pytest
import requests

from aggregator.tests.factories import TokenFactory, UserFactory, product_permissions
from catalogue.tests.factories import ProductFactory
from offers_sync.models import Offer
from offers_sync.tests.factories import OfferFactory
from tests.system import edge
from tests.system.live import current_database_url, free_port, service_env, start_web
from tests.tools import skip_or_fail_in_ci

MAX_AGE = 2
STALE_WHILE_REVALIDATE = 2
STALE_IF_ERROR = 600

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, scope="module")
def nginx_available():
    reason = edge.unavailable_reason()
    if reason is not None:
        skip_or_fail_in_ci(reason)


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("edge")
    with django_db_blocker.unblock():
        database_url = current_database_url()
    env = service_env(
        database_url,
        "",
        "",
        THROTTLE_ANON_READ_RATE="off",
        THROTTLE_WRITE_RATE="off",
        WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
        HTTP_CACHE_MAX_AGE=str(MAX_AGE),
        HTTP_CACHE_STALE_WHILE_REVALIDATE=str(STALE_WHILE_REVALIDATE),
        HTTP_CACHE_STALE_IF_ERROR=str(STALE_IF_ERROR),
    )
    web_port = free_port()
    web = start_web(env, web_port, tmp_path)
    proxy = edge.Nginx(f"127.0.0.1:{web_port}", tmp_path / "nginx").start()
    stack = {"env": env, "web": web, "web_port": web_port, "proxy": proxy, "logs": tmp_path}
    try:
        yield stack
    finally:
        proxy.stop()
        stack["web"].stop()


@pytest.fixture
def product(stack):
    product = ProductFactory(name="Kettle")
    OfferFactory(product=product, price=1000, items_in_stock=3)
    return product


def token_session(name: str) -> requests.Session:
    """A token holder who may write products, as the API's writers are."""
    user = UserFactory(username=name)
    user.user_permissions.add(*product_permissions("add", "change", "delete"))
    session = requests.Session()
    session.headers["Authorization"] = f"Token {TokenFactory(user=user).key}"
    return session


def cache_status(response: requests.Response) -> str:
    return response.headers["X-Cache-Status"]


def test_public_reads_are_served_from_the_cache(stack, product):
    url = f"{stack['proxy'].url}/products/{product.id}/offers"
    first = requests.get(url, timeout=5)
    second = requests.get(url, timeout=5)
    assert first.status_code == second.status_code == 200
    assert cache_status(first) == "MISS"
    assert cache_status(second) == "HIT"
    assert second.json() == first.json()


def test_a_token_holders_answers_are_never_stored_nor_shared(stack):
    proxy = stack["proxy"].url
    alice, bob = token_session("alice"), token_session("bob")
    created = alice.post(f"{proxy}/webhooks", json={"url": "http://127.0.0.1:9/alice"}, timeout=5)
    assert created.status_code == 201, created.text
    for _ in range(2):
        mine = alice.get(f"{proxy}/webhooks", timeout=5)
        assert [hook["url"] for hook in mine.json()] == ["http://127.0.0.1:9/alice"]
        assert cache_status(mine) == "BYPASS"
        assert cache_status(alice.get(f"{proxy}/alerts", timeout=5)) == "BYPASS"
    # Another token holder, and a reader without one, get their own answers, never Alice's.
    assert bob.get(f"{proxy}/webhooks", timeout=5).json() == []
    anonymous = requests.get(f"{proxy}/webhooks", timeout=5)
    assert anonymous.status_code == 401
    assert cache_status(anonymous) == "MISS"
    assert "alice" not in anonymous.text
    # Nothing of Alice's is in the cache's files either.
    stored = b"".join(path.read_bytes() for path in (stack["proxy"].directory / "cache").rglob("*") if path.is_file())
    assert b"alice" not in stored


def test_a_writer_reads_its_own_write_while_readers_get_the_kept_copy(stack, product):
    proxy = stack["proxy"].url
    path = f"{proxy}/products/{product.id}"
    assert requests.get(path, timeout=5).json()["name"] == "Kettle"  # now kept for readers
    writer = token_session("writer")
    assert writer.patch(path, json={"name": "Kettle 2"}, timeout=5).status_code == 200
    own = writer.get(path, timeout=5)
    assert own.json()["name"] == "Kettle 2"
    assert cache_status(own) == "BYPASS"


def test_a_browser_origin_gets_an_answer_that_names_it(stack, product):
    url = f"{stack['proxy'].url}/products/{product.id}/offers"
    for origin in ["https://one.example", "https://two.example", "https://one.example"]:
        response = requests.get(url, headers={"Origin": origin}, timeout=5)
        assert response.headers["Access-Control-Allow-Origin"] == origin


def test_a_change_shows_within_the_lifetime(stack, product):
    url = f"{stack['proxy'].url}/products/{product.id}/offers"

    def price() -> int:
        return requests.get(url, timeout=5).json()[0]["price"]

    assert price() == 1000  # kept from now on
    changed_at = time.monotonic()
    Offer.objects.filter(product=product).update(price=900)  # as a sync writes a change
    edge.poll_until(lambda: price() == 900, timeout=MAX_AGE + STALE_WHILE_REVALIDATE + 5, what="the new price")
    seen_after = time.monotonic() - changed_at
    # A cache answers from its copy for MAX_AGE, then refreshes it (stale-while-revalidate lets it
    # answer one more request from the old copy meanwhile).
    assert seen_after <= MAX_AGE + STALE_WHILE_REVALIDATE, seen_after
    # The next readers all get the new answer.
    assert [price() for _ in range(5)] == [900] * 5


def test_kept_keys_are_answered_while_the_web_is_down(stack, product):
    proxy = stack["proxy"].url
    kept = f"{proxy}/products/{product.id}/offers"
    before = requests.get(kept, timeout=5)
    assert before.status_code == 200
    stack["web"].stop()
    # Past the lifetime the copy is stale; within stale-if-error it still answers, others fail.
    stale = edge.poll_until(
        lambda: (response := requests.get(kept, timeout=5)).headers.get("X-Cache-Status") == "STALE" and response,
        timeout=MAX_AGE + 10,
        what="a stale answer",
    )
    assert stale.status_code == 200
    assert stale.json() == before.json()
    never_kept = requests.get(f"{proxy}/products/{product.id}", timeout=5)
    assert never_kept.status_code == 502
    # Back up, the next refresh brings it up to date again.
    stack["web"] = start_web(stack["env"], stack["web_port"], stack["logs"])
    edge.poll_until(
        lambda: (
            requests.get(kept, timeout=5).headers.get("X-Cache-Status") in {"HIT", "REVALIDATED", "MISS", "EXPIRED"}
        ),
        timeout=MAX_AGE + 10,
        what="fresh answers again",
    )
