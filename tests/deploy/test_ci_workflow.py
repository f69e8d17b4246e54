"""The GitHub Actions workflow: valid for actionlint, and running what .ci/run runs.

Both call scripts/ci-steps.sh with step names; these tests read the step names out of each and
compare, so a command added to one and not the other fails here.
"""

import re
import shlex
import subprocess
from pathlib import Path

import yaml

from tests.tools import require_program

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github/workflows/ci.yml"
STEPS_SCRIPT = "scripts/ci-steps.sh"


def workflow() -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    return {("on" if key is True else key): value for key, value in yaml.safe_load(WORKFLOW.read_text()).items()}


def steps_called(command_line: str) -> list[str]:
    """The step names of each call of scripts/ci-steps.sh in a line of shell."""
    words = shlex.split(command_line, comments=True)
    if STEPS_SCRIPT not in words:
        return []
    return words[words.index(STEPS_SCRIPT) + 1 :]


def steps_of_the_workflow() -> dict[str, list[str]]:
    """Per job (and database, for the test matrix), the steps it runs in order."""
    runs = {}
    for name, job in workflow()["jobs"].items():
        for database in job.get("strategy", {}).get("matrix", {}).get("database", [None]):
            lines = [step["run"] for step in job["steps"] if "run" in step]
            for line in lines:  # nothing but the shared script
                assert line.startswith(STEPS_SCRIPT + " "), line
            runs[f"{name}-{database}" if database else name] = [s for line in lines for s in steps_called(line)]
    return runs


def steps_of_ci_run() -> list[tuple[str, str]]:
    """(database, step) for every step .ci/run runs: the database is set per line or none."""
    called = []
    for line in (ROOT / ".ci/run").read_text().splitlines():
        for step in steps_called(line):
            if "DATABASE_URL=postgres" in line:
                database = "postgresql"
            elif "-u DATABASE_URL" in line:
                database = "sqlite"
            else:
                database = "-"
            called.append((database, step))
    return called


def test_actionlint_finds_nothing_in_the_workflow():
    actionlint = require_program("actionlint", how_to_install=f"`{STEPS_SCRIPT} tools` installs it")
    result = subprocess.run(
        [actionlint, str(WORKFLOW.relative_to(ROOT))], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_runs_on_pushes_and_pull_requests():
    assert set(workflow()["on"]) == {"push", "pull_request"}


def test_the_suite_runs_against_a_health_checked_postgresql_and_against_sqlite():
    job = workflow()["jobs"]["test"]
    assert job["strategy"]["matrix"]["database"] == ["postgresql", "sqlite"]
    postgres = job["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "--health-cmd" in postgres["options"] and "pg_isready" in postgres["options"]
    url = job["env"]["DATABASE_URL"]
    assert "matrix.database == 'postgresql' && 'postgres://" in url and url.endswith("|| '' }}")
    # A SQLite run has an empty DATABASE_URL, which the settings read as unset.


def test_pip_downloads_are_cached():
    for job in workflow()["jobs"].values():
        (setup,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@")]
        assert setup["with"]["cache"] == "pip"


def test_the_workflow_and_ci_run_run_the_same_steps():
    workflow_steps = steps_of_the_workflow()
    assert workflow_steps == {
        "lint": ["lint"],
        "test-postgresql": ["tools", "test"],
        "test-sqlite": ["tools", "test"],
        "image": ["image"],
    }
    local = steps_of_ci_run()
    assert ("postgresql", "test") in local and ("sqlite", "test") in local
    assert {step for _, step in local} == {step for steps in workflow_steps.values() for step in steps}


def test_the_steps_are_the_readme_s_test_command_lint_and_the_image():
    script = (ROOT / STEPS_SCRIPT).read_text()

    def body(step: str, *, prefix: str = "step_") -> str:
        return re.search(rf"^{prefix}{step}\(\) \{{\n(.*?)^\}}", script, flags=re.MULTILINE | re.DOTALL)[1]

    assert "make test" in (ROOT / "README.md").read_text()
    assert "make --no-print-directory test " in body("test")
    assert ".venv/bin/ruff check ." in body("lint") and ".venv/bin/lint-imports" in body("lint")
    assert ".venv/bin/hadolint Dockerfile" in body("image") and "docker build" in body("image")
    assert "apt-get" in body("apt_install", prefix="")
    for program, package in [("promtool", "prometheus"), ("nginx", "nginx-light"), ("chromium", "chromium")]:
        assert f"command -v {program}" in body("tools") and f"apt_install {package}" in body("tools")
