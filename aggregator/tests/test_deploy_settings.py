"""Production settings: HTTPS behind a proxy, as documented in `.env.production.example`."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION_ENV = ROOT / ".env.production.example"


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "aggregator.settings", "CURRENCY": "EUR"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_documented_production_environment_passes_check_deploy():
    env = read_env_file(PRODUCTION_ENV)
    assert env["SECRET_KEY"] == "", "the example must not carry a real secret"
    env["SECRET_KEY"] = "x7Qp2vR9sK4mN8wB3zL6tY1cF5hJ0gD7aE2uI9oP4qW8eR3tY6"
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_https_settings_check_deploy_names_what_production_still_needs():
    result = run_manage({"SECRET_KEY": "x7Qp2vR9sK4mN8wB3zL6tY1cF5hJ0gD7aE2uI9oP4qW8eR3tY6"}, "check", "--deploy")
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_bad_hsts_value_stops_start_up_with_one_line():
    result = run_manage({"SECRET_KEY": "k", "SECURE_HSTS_SECONDS": "a year"}, "check")
    assert result.returncode == 1
    assert result.stderr.strip() == "configuration error: SECURE_HSTS_SECONDS must be a whole number, not 'a year'"


@pytest.mark.django_db
class TestBehindHttpsProxy:
    @pytest.fixture(autouse=True)
    def https_only(self, settings):
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        settings.SECURE_SSL_REDIRECT = True
        settings.SECURE_HSTS_SECONDS = 3600
        settings.ALLOWED_HOSTS = ["aggregator.example.com"]

    def test_plain_http_is_redirected_to_https(self):
        response = Client().get("/products", HTTP_HOST="aggregator.example.com")
        assert response.status_code == 301
        assert response.headers["Location"] == "https://aggregator.example.com/products"

    def test_requests_the_proxy_marks_https_are_served_with_hsts(self):
        response = Client().get("/products", HTTP_HOST="aggregator.example.com", HTTP_X_FORWARDED_PROTO="https")
        assert response.status_code == 200
        assert response.headers["Strict-Transport-Security"] == "max-age=3600"

    def test_health_probes_over_plain_http_are_answered(self):
        response = Client().get("/health", HTTP_HOST="aggregator.example.com")
        assert response.status_code == 200
        assert response.json()["status"] == "healthy"
