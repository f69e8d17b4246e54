"""scripts/make_dotenv.py: the local .env it writes holds fresh secrets, readable by its owner only."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def make_dotenv(target: Path, umask: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/make_dotenv.py", ".env.example", str(target)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(umask),
        timeout=30,
    )


def values(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if "=" in line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_the_file_is_readable_by_its_owner_only_whatever_the_umask(tmp_path, umask):
    target = tmp_path / ".env"
    make_dotenv(target, umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_the_file_gets_fresh_secrets(tmp_path):
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    make_dotenv(first, 0o022)
    make_dotenv(second, 0o022)
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        assert len(values(first)[name]) >= 24
        assert values(first)[name] != values(second)[name]


def test_an_existing_file_is_left_as_it_is(tmp_path):
    target = tmp_path / ".env"
    target.write_text("SECRET_KEY=mine\n")
    target.chmod(0o640)
    make_dotenv(target, 0o022)
    assert target.read_text() == "SECRET_KEY=mine\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
