"""gunicorn refuses to start without collected static files, with one line saying so, and serves with them."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from aggregator.startup import STATIC_NOT_COLLECTED
from tests.system.live import collected_static_root, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent


def gunicorn(static_root: str, port: int, tmp_path: Path) -> subprocess.Popen:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SECRET_KEY": "test-only",
        "CURRENCY": "EUR",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "STATIC_ROOT": static_root,
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "aggregator.wsgi"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.e2e
def test_gunicorn_exits_at_start_when_static_files_are_not_collected(tmp_path):
    empty = tmp_path / "static"
    empty.mkdir()
    server = gunicorn(str(empty), free_port(), tmp_path)
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
    server = gunicorn(collected_static_root(), port, tmp_path)
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
