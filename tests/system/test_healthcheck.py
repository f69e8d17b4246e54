"""The container health check (scripts/healthcheck.py) against a running server."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.django_db


def run_healthcheck(port: int, allowed_hosts: str | None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PORT": str(port)}
    if allowed_hosts is not None:
        env["ALLOWED_HOSTS"] = allowed_hosts
    command = [sys.executable, "scripts/healthcheck.py"]
    return subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


def test_healthy_server_passes_with_a_public_host_name(live_server, settings):
    settings.ALLOWED_HOSTS = ["aggregator.example.com"]
    result = run_healthcheck(urlsplit(live_server.url).port, "aggregator.example.com,other.example.com")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "healthcheck: healthy"


def test_wildcard_domain_entry_is_probed_by_its_base_name(live_server, settings):
    settings.ALLOWED_HOSTS = [".example.com"]
    assert run_healthcheck(urlsplit(live_server.url).port, ".example.com").returncode == 0


def test_nothing_listening_fails():
    result = run_healthcheck(9, None)  # the discard port: nothing serves HTTP there
    assert result.returncode == 1
    assert "unreachable" in result.stdout
