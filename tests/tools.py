"""External programs some tests run (promtool, prometheus, actionlint, nginx, Chromium): found, or a clear skip.

On a developer's machine without the program the test is skipped with the reason and how to get
it. In CI (`CI=true`, set by GitHub Actions and by `.ci/run`) a missing program fails the test
instead: CI installs them, and a check that silently stopped running would prove nothing.
"""

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import pytest

# Programs installed by pip land beside the interpreter (the virtualenv's bin), which may not be on PATH.
_VENV_BIN = Path(sys.executable).parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_program(name: str, *, how_to_install: str, also: tuple[str, ...] = ()) -> str:
    """The path of `name` (or of one of `also`, the same program's other names), or skip (fail in CI)."""
    for candidate in (name, *also):
        found = shutil.which(candidate) or shutil.which(candidate, path=str(_VENV_BIN))
        if found:
            return found
    skip_or_fail_in_ci(f"{name} is not installed ({how_to_install})")


def skip_or_fail_in_ci(message: str) -> NoReturn:
    """Skip the test with `message`, or fail it in CI, which must provide what it needs."""
    if in_ci():
        pytest.fail(f"{message}; CI must install it")
    pytest.skip(message)


def promtool() -> str:
    return require_program("promtool", how_to_install="Debian/Ubuntu: apt-get install prometheus")


def prometheus() -> str:
    return require_program("prometheus", how_to_install="Debian/Ubuntu: apt-get install prometheus")


def chromium() -> str:
    return require_program(
        "chromium", how_to_install="Debian: apt-get install chromium", also=("chromium-browser", "google-chrome")
    )
