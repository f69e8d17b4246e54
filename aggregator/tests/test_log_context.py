"""Request ids: returned as X-Request-ID and present in every log line written while handling the request."""

import io
import json
import logging

import pytest
from django.conf import settings as django_settings

from aggregator.log_context import LogContextFilter, bind_cycle_id
from aggregator.logging import JsonFormatter


@pytest.fixture(params=["text", "json"])
def log_lines(request):
    """What the app's stdout handler would print, in the text or the JSON format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    if request.param == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(django_settings.LOGGING["formatters"]["text"]["format"]))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield request.param, lambda: [line for line in stream.getvalue().splitlines() if line]
    finally:
        root.removeHandler(handler)


def id_in(line: str, log_format: str, key: str = "request_id") -> str | None:
    if log_format == "json":
        return json.loads(line).get(key)
    marker = f" {key}="
    return line.rsplit(marker, 1)[1] if marker in line else None


@pytest.mark.django_db
def test_every_answer_carries_a_fresh_request_id(client):
    first = client.get("/health")["X-Request-ID"]
    second = client.get("/no/such/page")["X-Request-ID"]
    assert first and second and first != second
    assert len(first) == 32 and first.isalnum()


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ["abc", "req-2026.12.01_0001", "A" * 64, "0f5d1e2a-5b1c-4a8e-9d3b-2f1a0c9e8b7d"])
def test_a_sane_incoming_request_id_is_kept(client, incoming):
    assert client.get("/health", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"] == incoming


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming", ["", "A" * 65, "two words", "x\nforged log line", "id;drop", "ünïcode", "<script>"]
)
def test_an_unusable_incoming_request_id_is_replaced(client, incoming):
    answered = client.get("/health", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"]
    assert answered != incoming
    assert len(answered) == 32 and answered.isalnum()


@pytest.mark.django_db
def test_log_lines_written_while_handling_a_request_carry_its_id(client, log_lines):
    log_format, lines = log_lines
    # django.request logs the 404 after the middleware has returned: it must still carry the id.
    client.get("/no/such/page", HTTP_X_REQUEST_ID="trace-404")
    client.get("/products/not-a-uuid", HTTP_X_REQUEST_ID="trace-bad-id")
    printed = lines()
    not_found = [line for line in printed if "Not Found: /no/such/page" in line]
    assert not_found and all(id_in(line, log_format) == "trace-404" for line in not_found)
    assert any(id_in(line, log_format) == "trace-bad-id" for line in printed)


@pytest.mark.django_db
def test_lines_logged_after_the_request_carry_no_id(client, log_lines):
    log_format, lines = log_lines
    client.get("/no/such/page", HTTP_X_REQUEST_ID="finished-request")
    logging.getLogger("aggregator.tests").warning("between requests")
    (line,) = [line for line in lines() if "between requests" in line]
    assert id_in(line, log_format) is None


def test_a_cycle_id_tags_the_lines_of_every_thread(log_lines):
    import threading

    log_format, lines = log_lines
    bind_cycle_id("cycle-7")
    try:
        thread = threading.Thread(target=lambda: logging.getLogger("aggregator.tests").warning("from a fetch thread"))
        thread.start()
        thread.join()
    finally:
        bind_cycle_id(None)
    logging.getLogger("aggregator.tests").warning("after the cycle")
    # Picked by message: another test's leftover thread may log meanwhile. The logger is this
    # module's: a worker test may have configured the sync's loggers (logging.config) before.
    (fetch_line,) = [line for line in lines() if "from a fetch thread" in line]
    (after_line,) = [line for line in lines() if "after the cycle" in line]
    assert id_in(fetch_line, log_format, "cycle_id") == "cycle-7"
    assert id_in(after_line, log_format, "cycle_id") is None
