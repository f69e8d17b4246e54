"""The compose file against the code: every setting reaches the containers, processes start in order."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
# Read by the app or gunicorn but fixed inside the image (compose publishes WEB_PORT instead).
FIXED_IN_IMAGE = {"PORT"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def variables_the_app_reads() -> set[str]:
    names = set()
    for path in ("aggregator/settings.py", "aggregator/config.py"):
        text = (ROOT / path).read_text()
        names |= set(re.findall(r'read_\w+\(\s*"([A-Z][A-Z0-9_]*)"', text))
        names |= set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', text))
    names |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z][A-Z0-9_]*)"', (ROOT / "gunicorn.conf.py").read_text()))
    return names


def test_every_variable_the_app_reads_can_be_set_through_compose():
    passed_on = set(compose()["x-app"]["environment"])
    expected = variables_the_app_reads() - FIXED_IN_IMAGE
    assert {"SECRET_KEY", "DATABASE_URL", "SYNC_SCHEDULE", "WEB_CONCURRENCY"} <= expected  # the scan works
    assert sorted(expected - passed_on) == []


def test_web_and_workers_start_only_after_migrations_completed():
    services = compose()["services"]
    for name in ("web", "sync", "webhooks"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "python manage.py migrate --noinput &&" in services["migrate"]["command"][-1]


def test_worker_runs_the_sync_and_is_probed_by_its_liveness_check():
    sync = compose()["services"]["sync"]
    assert sync["command"] == ["python", "manage.py", "run_sync"]
    assert sync["healthcheck"]["test"] == ["CMD", "python", "manage.py", "run_sync", "--check"]
    # Longer than the worker's wind-down (under 10 s), so that SIGTERM, not SIGKILL, ends it.
    assert int(sync["stop_grace_period"].rstrip("s")) > 10
