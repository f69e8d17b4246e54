"""The Render Blueprint (render.yaml) held to the code: what it runs exists, what it sets is read,
what the settings require is given, and each service starts with the environment it would have there.

Each service's environment is resolved as Render would: `value`s as written, `generateValue` as a
fresh secret, `sync: false` as the operator's answer (ANSWERS below), `fromDatabase` as the managed
database's internal URL, `fromService` as the other service's value, `fromGroup` as the group's.
Render itself sets PORT and, on web services, RENDER_EXTERNAL_HOSTNAME.
"""

import ast
import base64
import json
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class

from tests.system.live import current_database_url
from tests.system.test_containers import variables_the_app_reads

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = ROOT / "render.yaml"
# What an operator types when Render asks for the `sync: false` variables.
ANSWERS = {"CURRENCY": "EUR", "OFFERS_SERVICE_URL": "https://offers.example.com", "OFFERS_REFRESH_TOKEN": "r-token"}
# Render's internal connection string of a managed database: postgresql://, no port.
RENDER_DATABASE_URL = "postgresql://aggregator:pw@dpg-d1example-a/aggregator"
RENDER_HOST = "aggregator-web-x1y2.onrender.com"
PLATFORM = {"PORT": "10000", "RENDER": "true"}
# Render sets these itself; the settings may read them, the Blueprint must not set them.
PLATFORM_ONLY = {"RENDER_EXTERNAL_HOSTNAME", "PORT"}


def blueprint() -> dict:
    return yaml.safe_load(BLUEPRINT.read_text())


def services() -> dict[str, dict]:
    return {service["name"]: service for service in blueprint()["services"]}


def resolved_env(
    name: str, *, database_url: str = RENDER_DATABASE_URL, generated: dict | None = None, _seen: tuple = ()
) -> dict[str, str]:
    """The variables service `name` runs with on Render; `generated` keeps each generated value, so
    that services reading one with fromService see the same."""
    generated = {} if generated is None else generated
    spec = blueprint()
    service = services()[name]
    groups = {group["name"]: group["envVars"] for group in spec.get("envVarGroups", [])}
    databases = {database["name"] for database in spec.get("databases", [])}
    env = dict(PLATFORM)
    if service["type"] == "web":
        env["RENDER_EXTERNAL_HOSTNAME"] = RENDER_HOST
    entries = list(service.get("envVars", []))
    while entries:
        entry = entries.pop(0)
        if "fromGroup" in entry:
            entries += groups[entry["fromGroup"]]
            continue
        key = entry["key"]
        if "value" in entry:
            env[key] = str(entry["value"])
        elif entry.get("generateValue"):
            # Render generates 256 random bits, base64-encoded.
            env[key] = generated.setdefault((name, key), base64.b64encode(secrets.token_bytes(32)).decode())
        elif entry.get("sync") is False:
            env[key] = ANSWERS[key]
        elif "fromDatabase" in entry:
            assert entry["fromDatabase"]["name"] in databases
            assert entry["fromDatabase"]["property"] == "connectionString"
            env[key] = database_url
        elif "fromService" in entry:
            source = entry["fromService"]
            assert services()[source["name"]]["type"] == source["type"]
            assert name not in _seen, "fromService loop"
            other = resolved_env(source["name"], database_url=database_url, generated=generated, _seen=(*_seen, name))
            env[key] = other[source["envVarKey"]]
        else:
            raise AssertionError(f"{name}: {key} has no value Render knows how to give")
    return env


def set_by_blueprint(name: str) -> set[str]:
    return set(resolved_env(name)) - set(PLATFORM) - {"RENDER_EXTERNAL_HOSTNAME"}


def required_variables() -> set[str]:
    """Variables without which the settings refuse to load: read by a `require_*` function of
    aggregator.config, or passed by name to one in the settings."""
    names = set()
    config = ast.parse((ROOT / "aggregator/config.py").read_text())
    for function in config.body:
        if isinstance(function, ast.FunctionDef) and function.name.startswith("require_"):
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                    if re.fullmatch(r"[A-Z][A-Z0-9_]+", str(node.args[0].value)):
                        names.add(node.args[0].value)
    settings = (ROOT / "aggregator/settings.py").read_text()
    names |= set(re.findall(r'require_\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings))
    return names


def python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "aggregator.settings"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def run_python(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return python(env, "-c", code)


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return python(env, "manage.py", *args)


def test_the_blueprint_deploys_the_web_two_workers_and_a_database_from_one_image():
    by_name = services()
    assert {name: service["type"] for name, service in by_name.items()} == {
        "aggregator-web": "web",
        "aggregator-sync": "worker",
        "aggregator-webhooks": "worker",
    }
    for service in by_name.values():
        assert service["runtime"] == "docker"
        assert service["dockerfilePath"] == "./Dockerfile"
        # A pre-deploy command needs a paid instance type; workers have no free one.
        assert service["plan"] != "free"
    web = by_name["aggregator-web"]
    assert web["healthCheckPath"] == "/health"
    assert shlex.split(web["preDeployCommand"]) == ["python", "manage.py", "migrate", "--noinput"]
    assert "dockerCommand" not in web  # the image's gunicorn
    assert shlex.split(by_name["aggregator-sync"]["dockerCommand"]) == ["python", "manage.py", "run_sync"]
    assert shlex.split(by_name["aggregator-webhooks"]["dockerCommand"]) == ["python", "manage.py", "run_webhooks"]
    assert [database["name"] for database in blueprint()["databases"]] == ["aggregator-db"]


def commands_run() -> list[list[str]]:
    """Every command the Blueprint has Render run, the web's being the image's CMD."""
    commands = []
    for service in services().values():
        for field in ("dockerCommand", "preDeployCommand"):
            if field in service:
                commands.append(shlex.split(service[field]))
    (cmd,) = re.findall(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    commands.append(json.loads(cmd))
    return commands


def test_every_command_it_runs_exists():
    commands = commands_run()
    assert len(commands) == 4
    for command in commands:
        if command[:2] == ["python", "manage.py"]:
            name, args = command[2], command[3:]
            app = get_commands().get(name)
            assert app is not None, f"no management command {name!r}"
            # Its options parse as the command's own parser reads them.
            load_command_class(app, name).create_parser("manage.py", name).parse_args(args)
        else:
            assert command[0] == "gunicorn"
            assert (ROOT / command[command.index("--config") + 1]).exists()
            module = command[-1].replace(".", "/") + ".py"
            assert (ROOT / module).exists(), module


def test_every_variable_it_sets_is_one_the_settings_read():
    read = variables_the_app_reads() | required_variables()
    for name in services():
        assert sorted(set_by_blueprint(name) - read) == [], name
        assert sorted(set_by_blueprint(name) & PLATFORM_ONLY) == [], name


def test_every_variable_the_settings_require_is_provided_to_every_service():
    required = required_variables()
    assert {"SECRET_KEY", "CURRENCY"} <= required  # the reading works
    for name in services():
        assert sorted(required - set_by_blueprint(name)) == [], name


def test_the_services_share_one_secret_key_and_the_operator_answers_once():
    generated = {}
    envs = {name: resolved_env(name, generated=generated) for name in services()}
    assert len({env["SECRET_KEY"] for env in envs.values()}) == 1
    assert len({(env["OFFERS_SERVICE_URL"], env["CURRENCY"]) for env in envs.values()}) == 1
    for service in services().values():
        asked = {entry["key"] for entry in service.get("envVars", []) if entry.get("sync") is False}
        generated = {entry["key"] for entry in service.get("envVars", []) if entry.get("generateValue")}
        if service["type"] == "worker":
            assert asked == set() and "SECRET_KEY" not in generated
        else:
            assert asked == set(ANSWERS) and "SECRET_KEY" in generated


# Render's generated SECRET_KEY is 256 random bits in 44 characters: as strong as a key needs to be,
# shorter than the 50 characters of Django's rule of thumb (security.W009).
ACCEPTED_WARNINGS = {"security.W009"}


def test_the_web_s_settings_load_and_pass_the_deployment_checks():
    result = manage(resolved_env("aggregator-web"), "check", "--deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = set(re.findall(r"\((\w+\.W\d+)\)", result.stderr))
    assert sorted(warnings - ACCEPTED_WARNINGS) == [], result.stderr


@pytest.mark.parametrize("name", ["aggregator-sync", "aggregator-webhooks"])
def test_the_workers_settings_load(name):
    env = resolved_env(name)
    command = services()[name]["dockerCommand"].split()[2:]
    result = manage(env, *command, "--help")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_required_variable_stops_the_service():
    env = resolved_env("aggregator-sync")
    del env["CURRENCY"]
    result = manage(env, "check")
    assert result.returncode == 1
    assert "configuration error: CURRENCY must be set" in result.stderr


HEALTH_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client()
host = {host!r}
answers = {{
    "health": client.get({path!r}, HTTP_HOST=host).status_code,
    "api_over_https": client.get("/products", HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https").status_code,
    "api_over_http": client.get("/products", HTTP_HOST=host).status_code,
    "other_host": client.get("/products", HTTP_HOST="evil.example", HTTP_X_FORWARDED_PROTO="https").status_code,
}}
print(json.dumps(answers))
"""


@pytest.mark.django_db(transaction=True)
def test_the_health_path_answers_200_to_render_s_check():
    # Render's check: GET healthCheckPath with the onrender.com name as Host, from inside its
    # network (no X-Forwarded-Proto). Requests through the edge arrive with X-Forwarded-Proto.
    web = services()["aggregator-web"]
    env = resolved_env("aggregator-web", database_url=current_database_url())
    result = run_python(env, HEALTH_PROBE.format(host=RENDER_HOST, path=web["healthCheckPath"]))
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers == {"health": 200, "api_over_https": 200, "api_over_http": 301, "other_host": 400}
