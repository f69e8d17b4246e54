"""WEB_STATEMENT_TIMEOUT: a web request's slow statement is cancelled and answered 503; workers are not bound."""

import importlib
import json
import time

import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from django.test import RequestFactory

from aggregator import statement_timeout
from aggregator.exceptions import STATEMENT_TIMED_OUT
from catalogue.tests.factories import ProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")


@pytest.fixture
def web_application(settings):
    """The WSGI application as gunicorn loads it, on connections opened from now on."""
    settings.WEB_STATEMENT_TIMEOUT = 1
    import aggregator.wsgi

    application = importlib.reload(aggregator.wsgi).application
    connection.close()
    yield application
    connection_created.disconnect(dispatch_uid=statement_timeout.DISPATCH_UID)
    connection.close()


def call(application, path: str) -> tuple[str, dict]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    response = application(RequestFactory().get(path).environ, start_response)
    body = b"".join(response)
    # As a WSGI server does: closing the response sends request_finished, which clears the request's
    # log id (aggregator.log_context); left set, it would tag a later test's log lines.
    response.close()
    return answer["status"], json.loads(body)


def test_a_request_whose_query_runs_too_long_is_cancelled_and_answered_503(web_application, monkeypatch):
    product = ProductFactory()

    def slow_trend(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(10)")

    monkeypatch.setattr("price_history.apis.price_trend_get", slow_trend)
    started = time.monotonic()
    status, body = call(web_application, f"/products/{product.id}/price-trend")
    assert time.monotonic() - started < 5
    assert status.startswith("503")
    assert body == {"detail": STATEMENT_TIMED_OUT}


def test_the_bound_holds_for_the_web_process_only(settings):
    settings.WEB_STATEMENT_TIMEOUT = 1
    with connection.cursor() as cursor:  # a worker's or a management command's connection
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
