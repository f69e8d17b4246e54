"""The web process's own log lines (gunicorn's start-up and access log) follow LOG_FORMAT."""

import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.system.live import collected_static_root, free_port, start_gunicorn


def serve_one_request(log_format: str, tmp_path: Path, *, access_log: bool = True) -> list[str]:
    """Start gunicorn, ask for one (unknown) path, stop it; return what it printed on stdout."""
    port = free_port()
    server = start_gunicorn(
        port,
        tmp_path,
        GUNICORN_ACCESS_LOG="true" if access_log else "false",
        LOG_FORMAT=log_format,
        STATIC_ROOT=collected_static_root(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page", timeout=2)
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("gunicorn did not start: " + server.stderr.read())
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        stdout, _ = server.communicate(timeout=30)
    return [line for line in stdout.splitlines() if line.strip()]


@pytest.mark.e2e
def test_json_log_format_makes_every_stdout_line_a_json_object(tmp_path):
    lines = serve_one_request("json", tmp_path)
    entries = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert any(entry["logger"] == "gunicorn.error" and "Listening at" in entry["message"] for entry in entries)
    assert any(entry["logger"] == "gunicorn.access" and "GET /no-such-page" in entry["message"] for entry in entries)
    # The request's id is in the app's line about it and in the access log's, and it is the same one.
    ids = {
        entry["logger"]: entry.get("request_id")
        for entry in entries
        if "/no-such-page" in entry["message"] and entry["logger"] in ("django.request", "gunicorn.access")
    }
    assert set(ids) == {"django.request", "gunicorn.access"}
    assert ids["django.request"] == ids["gunicorn.access"] and len(ids["django.request"]) == 32


@pytest.mark.e2e
def test_text_log_format_keeps_the_plain_access_log(tmp_path):
    lines = serve_one_request("text", tmp_path)
    assert any('"GET /no-such-page HTTP/1.1" 404' in line and not line.startswith("{") for line in lines)
    access = next(line for line in lines if '"GET /no-such-page HTTP/1.1" 404' in line)
    app = next(line for line in lines if "Not Found: /no-such-page" in line)
    assert " request_id=" in app and app.rsplit(" request_id=", 1)[1] == access.rsplit(" request_id=", 1)[1]


@pytest.mark.e2e
def test_without_the_access_log_an_error_answer_is_still_logged(tmp_path):
    lines = serve_one_request("text", tmp_path, access_log=False)  # the default
    assert not any('"GET /no-such-page HTTP/1.1"' in line for line in lines)
    assert any("WARNING django.request Not Found: /no-such-page" in line for line in lines)
