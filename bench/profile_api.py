"""Where a request's time goes: the Django application called in-process, one request at a time.

    .venv/bin/python bench/profile_api.py                 # CPU and wall time per request, per endpoint
    .venv/bin/python bench/profile_api.py --cprofile offers   # plus cProfile's top functions

It prepares the same PostgreSQL database as bench/api_bench.py (10,000 products × 5 offers), then
calls the WSGI application directly with environ dicts like gunicorn's, so the numbers are the
application's own cost per request, without gunicorn, wrk or concurrency. Use it to see what a
change saves; use api_bench.py for throughput and latency.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import subprocess
import sys
import time

from api_bench import DEFAULT_DATABASE_URL, ENDPOINTS, PYTHON, RESULTS, ROOT, recreate_database

TOKEN_HEADER = "HTTP_AUTHORIZATION"


def prepare(database_url: str, products: int) -> tuple[list[str], str]:
    env = dict(os.environ)
    ids_file, token_file = RESULTS / "profile-ids.txt", RESULTS / "profile-token.txt"
    recreate_database(database_url)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [PYTHON, "bench/seed.py", "--products", str(products), "--ids-file", str(ids_file), "--token-file",
         str(token_file)],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    token = token_file.read_text().strip()
    token_file.unlink()
    return ids_file.read_text().split(), token


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
        environ[TOKEN_HEADER] = f"Token {token}"
    return environ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint (default 3000)")
    parser.add_argument("--rounds", type=int, default=6, help="the best round counts (default 6)")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--cprofile", nargs="*", default=None, help="endpoints to profile (default: none)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--only", nargs="*", choices=[e.key for e in ENDPOINTS], help="endpoints to run")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        OFFERS_SERVICE_URL="",
        OFFERS_REFRESH_TOKEN="",
        DJANGO_SETTINGS_MODULE="aggregator.settings",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),  # the service's own INFO lines would be the profile
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    ids, token = prepare(database_url, args.products)

    sys.path.insert(0, str(ROOT))
    from aggregator.wsgi import application

    def start_response(status, headers, exc_info=None):
        start_response.status = status

    def call(environ: dict) -> bytes:
        result = application(environ, start_response)
        try:
            return b"".join(result)
        finally:
            result.close()

    rows = []
    for endpoint in [e for e in ENDPOINTS if not args.only or e.key in args.only]:

        def request(n: int, endpoint=endpoint) -> dict:
            path = endpoint.path.replace("{id}", ids[n % len(ids)])
            if endpoint.method == "POST":
                body = json.dumps({"name": f"Profiled product {n}", "description": "A product."}).encode()
                return environ_for("POST", path, body, token)
            return environ_for("GET", path)

        for n in range(50):  # warm up: connection, caches, first-use imports
            call(request(n))
        status = start_response.status
        if not status.startswith(("200", "201")):
            sys.exit(f"profile: {endpoint.method} {endpoint.path} answered {status}")
        profiled = args.cprofile is not None and endpoint.key in (args.cprofile or [e.key for e in ENDPOINTS])
        profiler = cProfile.Profile() if profiled else None
        # Several rounds, keeping the fastest: other work on the machine only ever adds time.
        best_wall = best_cpu = float("inf")
        per_round = max(args.requests // args.rounds, 1)
        for round_number in range(args.rounds):
            environs = [request(round_number * per_round + n) for n in range(per_round)]
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            for environ in environs:
                call(environ)
            if profiler:
                profiler.disable()
            best_wall = min(best_wall, (time.perf_counter() - wall) * 1000 / per_round)
            best_cpu = min(best_cpu, (time.process_time() - cpu) * 1000 / per_round)
        rows.append((f"{endpoint.method} {endpoint.path}", best_wall, best_cpu))
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
            stats.print_stats(args.top)
            print(f"\n=== cProfile: {endpoint.method} {endpoint.path} (cumulative) ===")
            print(out.getvalue()[:12000])
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(args.top)
            print(f"\n=== cProfile: {endpoint.method} {endpoint.path} (own time) ===")
            print(out.getvalue()[:12000])

    print("\n| Endpoint | wall ms/request | CPU ms/request (this process) |\n|---|---:|---:|")
    for name, wall_ms, cpu_ms in rows:
        print(f"| `{name}` | {wall_ms:.3f} | {cpu_ms:.3f} |")
    print(
        f"\nIn-process, one request at a time, no gunicorn; best of {args.rounds} rounds of "
        f"{args.requests // args.rounds} requests; profiling (if on) inflates the profiled rows."
    )


if __name__ == "__main__":
    main()
