"""What the benchmarks share: the paths, a database of their own, Django set up in process on it, and
the CPU time of a process as /proc counts it.

A script imports it after putting bench/ on sys.path (`sys.path.insert(0, str(Path(__file__).resolve().parent))`).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def recreate_database(url: str) -> None:
    """Drop and create the database of `url`, so every run starts from the same state."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    """This process's environment plus the settings a benchmark's Django runs with: production
    settings (DEBUG off) on `database_url`, warnings only in the log."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only",
        "CURRENCY": "EUR",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
        **extra,
    }


def setup_django(env: dict[str, str]) -> None:
    """A fresh, migrated database at env's DATABASE_URL, and Django set up in this process with `env`."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    recreate_database(env["DATABASE_URL"])
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command (utime and stime are [11] and [12]); None once gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()
