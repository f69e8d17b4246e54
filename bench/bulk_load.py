"""Load 10,000 products through the API as a consumer would: POST /products/bulk, 1,000 per request.

As deployed: gunicorn with gunicorn.conf.py, DEBUG off, PostgreSQL (BENCH_DATABASE_URL, by default
the database `aggregator_bench_bulk`, recreated and dropped), default throttling rates. Prints the
wall time and products per second; the target is under 15 s for 10,000.

    .venv/bin/python bench/bulk_load.py [--products 10000] [--per-request 1000] [--clients 2]
"""

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import (  # noqa: E402
    PYTHON,
    ROOT,
    collected_static_root,
    drop_database,
    recreate_database,
    run,
    wait_until_healthy,
    web_env,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/aggregator_bench_bulk"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--per-request", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2, help="concurrent requests (default 2)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8110")))
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    # gunicorn will not start without collected static files (aggregator/startup.py).
    env = web_env(database_url, throttled=True, STATIC_ROOT=collected_static_root())
    recreate_database(database_url)
    try:
        run([PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"], env)
        make_token = (
            "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
            "from django.contrib.auth.models import Permission; "
            "user = get_user_model().objects.create_user('bulk-bench'); "
            "user.user_permissions.add(Permission.objects.get(codename='add_product')); "
            "print(Token.objects.create(user=user).key)"
        )
        token = run([PYTHON, "manage.py", "shell", "-c", make_token], env, capture_output=True, text=True)
        token = token.stdout.split()[-1]  # the last line: shell may print notices first
        command = [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{args.port}"]
        server = subprocess.Popen([*command, "aggregator.wsgi"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        try:
            base_url = f"http://127.0.0.1:{args.port}"
            wait_until_healthy(base_url, server)
            session = requests.Session()
            session.headers["Authorization"] = f"Token {token}"
            batches = [
                [
                    {"name": f"Bulk product {n}", "description": f"Loaded in bulk, number {n}."}
                    for n in range(start, end)
                ]
                for start in range(0, args.products, args.per_request)
                for end in [min(start + args.per_request, args.products)]
            ]

            def send(batch):
                response = session.post(f"{base_url}/products/bulk", json=batch, timeout=60)
                if response.status_code != 201:
                    raise SystemExit(f"bench: {response.status_code} {response.text[:200]}")
                return len(response.json())

            started = time.monotonic()
            with ThreadPoolExecutor(args.clients) as pool:
                created = sum(pool.map(send, batches))
            elapsed = time.monotonic() - started
            print(
                f"{created:,} products in {len(batches)} requests of {args.per_request}, {args.clients} at a time: "
                f"{elapsed:.2f} s ({created / elapsed:,.0f} products/s)"
            )
        finally:
            server.terminate()
            server.wait(30)
    finally:
        drop_database(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
