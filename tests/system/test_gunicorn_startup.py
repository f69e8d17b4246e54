"""gunicorn refuses to start without collected static files, with one line saying so, and serves with them."""

import urllib.request

import pytest

from aggregator.startup import STATIC_NOT_COLLECTED
from tests.system.live import collected_static_root, free_port, start_gunicorn, wait_for


@pytest.mark.e2e
def test_gunicorn_exits_at_start_when_static_files_are_not_collected(tmp_path):
    empty = tmp_path / "static"
    empty.mkdir()
    server = start_gunicorn(free_port(), tmp_path, STATIC_ROOT=str(empty))
    try:
        _, stderr = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode != 0
    assert stderr.strip().splitlines()[-1] == f"configuration error: {STATIC_NOT_COLLECTED}"
    assert "Traceback" not in stderr
    assert "Listening at" not in stderr


@pytest.mark.e2e
def test_gunicorn_with_collected_static_files_serves_the_docs(tmp_path):
    port = free_port()
    server = start_gunicorn(port, tmp_path, STATIC_ROOT=collected_static_root())
    try:
        wait_for(lambda: _status(f"http://127.0.0.1:{port}/docs") == 200, timeout=30, what="GET /docs")
    finally:
        server.terminate()
        server.communicate(timeout=30)


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None
