"""How many offers reads per second the fake offers service answers, as the sync benchmark uses it.

Starts `manage.py run_fake_offers --auto-register` (default latency 20 ± 10 ms) in its own
process, then fetches N distinct products' offers through one pooled `requests.Session` from a
pool of threads, as the worker does, and prints the rate. The worker's benchmark needs the fake
to sustain well over 500 requests/s with 16 connections.

    .venv/bin/python bench/fake_service_throughput.py [--products 10000] [--concurrency 16]
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
REFRESH_TOKEN = "bench-refresh-token"


def start_fake(extra: list[str]) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only", "DEV_TOOLS": "true"}
    command = [sys.executable, "manage.py", "run_fake_offers", "--port", "0", "--auto-register", "--seed", "1"]
    command += ["--refresh-token", REFRESH_TOKEN, *extra]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+", line)
    if not match:
        process.kill()
        raise SystemExit(f"the fake did not start: {line!r}")
    return process, match.group(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("fake_args", nargs="*", help="extra run_fake_offers flags, after --")
    args = parser.parse_args()

    process, url = start_fake(args.fake_args)
    try:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=args.concurrency, pool_block=True))
        token = session.post(f"{url}/api/v1/auth", headers={"Bearer": REFRESH_TOKEN}, timeout=5).json()["access_token"]
        headers = {"Bearer": token}
        ids = [str(uuid.uuid4()) for _ in range(args.products)]

        def fetch(product_id: str) -> int:
            response = session.get(f"{url}/api/v1/products/{product_id}/offers", headers=headers, timeout=(3, 10))
            response.json()
            return response.status_code

        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(fetch, ids[: args.concurrency * 4]))  # warm the pool's connections
            started = time.perf_counter()
            statuses = list(pool.map(fetch, ids))
            elapsed = time.perf_counter() - started
        stats = session.get(f"{url}/_control/stats", timeout=10).json()
        bad = len([s for s in statuses if s != 200])
        print(
            f"{len(ids)} products, {args.concurrency} threads: {elapsed:.2f} s, {len(ids) / elapsed:.0f} req/s, "
            f"{bad} non-200, fake counted {sum(stats['offers_requests'].values())} offers requests"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
