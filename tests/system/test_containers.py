"""The compose file against the code: every setting reaches the containers, processes start in order."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
# Read by the app or gunicorn but fixed inside the image (compose publishes WEB_PORT instead; the
# static files are collected into the default STATIC_ROOT at build time).
FIXED_IN_IMAGE = {"PORT", "STATIC_ROOT"}
# Set by a hosting platform for its own services, not by an operator (render.yaml).
PLATFORM_SET = {"RENDER_EXTERNAL_HOSTNAME"}
# Development only, never passed on: a developer's .env sets it for `make run`, and the image has no
# devtools package (the demo's fake offers service sets it for its own container).
DEVELOPMENT_ONLY = {"DEV_TOOLS"}


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
    expected = variables_the_app_reads() - FIXED_IN_IMAGE - DEVELOPMENT_ONLY - PLATFORM_SET
    assert {"SECRET_KEY", "DATABASE_URL", "SYNC_SCHEDULE", "WEB_CONCURRENCY"} <= expected  # the scan works
    assert sorted(expected - passed_on) == []
    assert DEVELOPMENT_ONLY <= variables_the_app_reads()
    assert sorted(DEVELOPMENT_ONLY & passed_on) == []


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


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _pattern_regex(pattern: str) -> str:
    """Docker's pattern syntax (Go's filepath.Match plus `**`), for the forms .dockerignore uses."""
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return regex


def in_build_context(path: str, patterns: list[str]) -> bool:
    """Whether Docker sends this file: the last pattern matching it or a folder above it decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            included = negated
    return included


def build_context() -> list[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    patterns = dockerignore_patterns()
    return [path for path in tracked.splitlines() if in_build_context(path, patterns)]


def test_the_image_has_no_development_tools():
    context = build_context()
    assert "aggregator/settings.py" in context and "offers_sync/sync.py" in context  # the scan works
    assert [path for path in context if path.startswith("devtools/")] == []
    assert [path for path in context if "/tests/" in path or path.startswith(("bench/", "tests/"))] == []
    assert not any("fake" in path for path in context)


def test_the_image_context_runs_without_the_development_tools(tmp_path):
    # What the Dockerfile copies, run as the image runs it: every app loads without devtools, the
    # fake's command is absent, and asking for the development tools stops the start with a message.
    for path in build_context():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, tmp_path / path)

    def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
        base = {
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "aggregator.settings",
            "SECRET_KEY": "k",
            "CURRENCY": "EUR",
        }
        command = [sys.executable, "manage.py", *args]
        return subprocess.run(command, cwd=tmp_path, env={**base, **env}, capture_output=True, text=True, timeout=120)

    checked = manage("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    commands = manage("help", "--commands")
    assert "run_sync" in commands.stdout and "run_fake_offers" not in commands.stdout
    refused = manage("check", DEV_TOOLS="true")
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("configuration error: DEV_TOOLS is true, but")


def test_the_demo_alone_runs_the_fake_offers_service_from_the_checkout():
    services = compose()["services"]
    offers = services["offers"]
    assert offers["profiles"] == ["demo"]
    assert "run_fake_offers" in offers["command"]
    assert offers["volumes"] == ["./devtools:/app/devtools:ro"]
    assert offers["environment"]["DEV_TOOLS"] == "true"
    assert offers["environment"]["SECRET_KEY"] == compose()["x-app"]["environment"]["SECRET_KEY"]
    for name in ("migrate", "web", "sync"):
        assert "DEV_TOOLS" not in services[name]["environment"]
        assert "volumes" not in services[name]


def test_webhooks_to_private_networks_stay_off_unless_a_demo_asks():
    # With them on, a token holder could make the worker POST to the database's or the admin's
    # port inside the compose network and read the status back from /deliveries.
    off_unless_set = "${WEBHOOK_ALLOW_PRIVATE_NETWORKS:-false}"
    assert compose()["x-app"]["environment"]["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] == off_unless_set
    for name, service in compose()["services"].items():
        if "demo" not in service.get("profiles", []):
            value = service.get("environment", {}).get("WEBHOOK_ALLOW_PRIVATE_NETWORKS", off_unless_set)
            assert value == off_unless_set, name
