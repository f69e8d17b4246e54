"""Where a request's time goes: the Django application called in-process, one request at a time.

    .venv/bin/python bench/profile_api.py                        # CPU and wall ms per request, per endpoint
    .venv/bin/python bench/profile_api.py --cprofile offers      # plus cProfile's top functions
    .venv/bin/python bench/profile_api.py --instructions         # instructions per request (valgrind)

It prepares the same PostgreSQL database as bench/api_bench.py (10,000 products × 5 offers), then
calls the WSGI application directly with environ dicts like gunicorn's, so the numbers are the
application's own cost per request, without gunicorn, wrk or concurrency. Use it to see what a
change saves; use api_bench.py for throughput and latency.

Timings on a machine whose cores are shared with other work vary by ±20 % even as the best of
several rounds. `--instructions` counts the CPU instructions the process executes per request under
valgrind (callgrind), which other load cannot change: it runs each endpoint twice, with 0 and with
N measured requests after the same warm-up, and divides the difference by N. Slow (about a minute
per endpoint), but repeatable to a fraction of a percent.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from api_bench import DEFAULT_DATABASE_URL, ENDPOINTS, PYTHON, RESULTS, ROOT, recreate_database, web_env

IDS_FILE = RESULTS / "profile-ids.txt"
WARMUP = 50


def prepare(products: int) -> None:
    token_file = RESULTS / "profile-token.txt"
    recreate_database(os.environ["DATABASE_URL"])
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, check=True)
    seed = [PYTHON, "bench/seed.py", "--products", str(products)]
    subprocess.run([*seed, "--ids-file", str(IDS_FILE), "--token-file", str(token_file)], cwd=ROOT, check=True)
    token_file.unlink()


def environ_for(method: str, path: str, body: bytes = b"", token: str = "") -> dict:
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8100",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8100",
        "HTTP_USER_AGENT": "profile_api",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Token {token}"
    return environ


class Driver:
    """Calls the WSGI application as gunicorn would, for one endpoint, with rotating product ids."""

    def __init__(self, endpoint):
        sys.path.insert(0, str(ROOT))
        from aggregator.wsgi import application

        self.application = application
        from rest_framework.authtoken.models import Token  # only once Django is set up

        self.endpoint = endpoint
        self.ids = IDS_FILE.read_text().split()
        self.token = Token.objects.get(user__username="bench").key
        self.status = ""

    def start_response(self, status, headers, exc_info=None):
        self.status = status

    def environ(self, n: int) -> dict:
        path = self.endpoint.path.replace("{id}", self.ids[n % len(self.ids)])
        if self.endpoint.method == "POST":
            body = json.dumps({"name": f"Profiled product {n}", "description": "A product."}).encode()
            return environ_for("POST", path, body, self.token)
        return environ_for("GET", path)

    def call(self, environ: dict) -> bytes:
        result = self.application(environ, self.start_response)
        try:
            return b"".join(result)
        finally:
            result.close()

    def warm_up(self) -> None:
        for n in range(WARMUP):  # the connection, caches, first-use imports
            self.call(self.environ(n))
        if not self.status.startswith(("200", "201")):
            sys.exit(f"profile: {self.endpoint.method} {self.endpoint.path} answered {self.status}")


def timed(endpoint, args) -> tuple[float, float]:
    driver = Driver(endpoint)
    driver.warm_up()
    profiled = args.cprofile is not None and endpoint.key in (args.cprofile or [e.key for e in ENDPOINTS])
    profiler = cProfile.Profile() if profiled else None
    # Several rounds, keeping the fastest: other work on the machine only ever adds time.
    best_wall = best_cpu = float("inf")
    per_round = max(args.requests // args.rounds, 1)
    for round_number in range(args.rounds):
        environs = [driver.environ(WARMUP + round_number * per_round + n) for n in range(per_round)]
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for environ in environs:
            driver.call(environ)
        if profiler:
            profiler.disable()
        best_wall = min(best_wall, (time.perf_counter() - wall) * 1000 / per_round)
        best_cpu = min(best_cpu, (time.process_time() - cpu) * 1000 / per_round)
    if profiler:
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(args.top)
            print(f"\n=== cProfile: {endpoint.method} {endpoint.path} ({order}) ===")
            print(out.getvalue()[:15000])
    return best_wall, best_cpu


def loop(endpoint, requests: int) -> None:
    """The body of one --instructions run: warm up, then `requests` requests, nothing else."""
    driver = Driver(endpoint)
    driver.warm_up()
    environs = [driver.environ(WARMUP + n) for n in range(requests)]
    for environ in environs:
        driver.call(environ)


def instructions(endpoint, requests: int) -> float:
    def count(n: int) -> int:
        command = [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            PYTHON, __file__, "--reuse-db", "--loop", endpoint.key, "--requests", str(n),
        ]  # fmt: skip
        completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        return int(re.search(r"Collected : (\d+)", completed.stderr).group(1))

    with ThreadPoolExecutor(2) as pool:
        base, measured = pool.map(count, [0, requests])
    return (measured - base) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=None, help="per endpoint (3000; 300 with --instructions)")
    parser.add_argument("--rounds", type=int, default=6, help="the best round counts (default 6)")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--cprofile", nargs="*", default=None, help="endpoints to profile (default: none)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--only", nargs="*", choices=[e.key for e in ENDPOINTS], help="endpoints to run")
    parser.add_argument("--instructions", action="store_true", help="count instructions with valgrind")
    parser.add_argument("--reuse-db", action="store_true", help="use the database a previous run prepared")
    parser.add_argument("--loop", choices=[e.key for e in ENDPOINTS], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests is None:
        args.requests = 300 if args.instructions else 3000

    # A SECRET_KEY and CURRENCY already set are kept: the --loop processes this one starts see the same.
    os.environ.update(
        web_env(
            os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
            SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            CURRENCY=os.environ.get("CURRENCY") or "EUR",
            LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),  # the service's own INFO lines would be the profile
        )
    )
    endpoints = {e.key: e for e in ENDPOINTS}
    if args.loop:
        loop(endpoints[args.loop], args.requests)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.reuse_db:
        prepare(args.products)
    chosen = [e for e in ENDPOINTS if not args.only or e.key in args.only]

    if args.instructions:
        if shutil.which("valgrind") is None:
            sys.exit("profile: valgrind is not installed (Debian: apt-get install valgrind)")
        print("\n| Endpoint | instructions/request (millions) |\n|---|---:|")
        for endpoint in chosen:
            print(f"| `{endpoint.method} {endpoint.path}` | {instructions(endpoint, args.requests) / 1e6:.2f} |")
        print(
            f"\nIn-process, no gunicorn: valgrind --tool=callgrind, ({args.requests} requests − 0) / {args.requests}."
        )
        return

    rows = [(endpoint, *timed(endpoint, args)) for endpoint in chosen]
    print("\n| Endpoint | wall ms/request | CPU ms/request (this process) |\n|---|---:|---:|")
    for endpoint, wall_ms, cpu_ms in rows:
        print(f"| `{endpoint.method} {endpoint.path}` | {wall_ms:.3f} | {cpu_ms:.3f} |")
    print(
        f"\nIn-process, one request at a time, no gunicorn; best of {args.rounds} rounds of "
        f"{args.requests // args.rounds} requests; profiling (if on) inflates the profiled rows."
    )


if __name__ == "__main__":
    main()
