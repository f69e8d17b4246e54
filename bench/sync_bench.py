"""Benchmark of the offer sync: one worker, two workers, a no-change cycle, and memory at scale.

    .venv/bin/python bench/sync_bench.py                       # 10,000 products (about 2 minutes)
    .venv/bin/python bench/sync_bench.py --memory-products 100000   # plus a cycle at 100,000

It uses PostgreSQL (a database of its own, dropped and created: `--database-url`), the project's
fake offers service in its own process answering in 20 ms ± 10 ms with its default churn, and
`manage.py run_sync --once --tick …` as the worker, exactly as deployed. Everything runs on
loopback; the fake service, the worker(s) and PostgreSQL share this machine's cores.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REFRESH_TOKEN = "bench-refresh-token"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--memory-products", type=int, default=0, help="Also run one cycle at this many products.")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aggregator_syncbench")
    parser.add_argument("--port", type=int, default=0, help="Port for the fake offers service (default: a free one).")
    args = parser.parse_args()

    port = args.port or free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "SECRET_KEY": "bench-only",
        "DEBUG": "false",
        "OFFERS_SERVICE_URL": f"http://127.0.0.1:{port}",
        "OFFERS_REFRESH_TOKEN": REFRESH_TOKEN,
        "LOG_LEVEL": "WARNING",
        "SYNC_HEARTBEAT_FILE": "/tmp/aggregator-sync-bench-heartbeat",
    }
    env.pop("SYNC_CONCURRENCY", None)  # default settings
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DEBUG")})
    os.environ["DJANGO_SETTINGS_MODULE"] = "aggregator.settings"
    sys.path.insert(0, str(ROOT))

    recreate_database(args.database_url)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    add_registered_products(args.products)

    fake = subprocess.Popen(
        [PYTHON, "manage.py", "run_fake_offers", "--port", str(port), "--refresh-token", REFRESH_TOKEN,
         "--auto-register", "--latency-ms", "20", "--jitter-ms", "10", "--seed", "1", "--churn-interval", "0"],
        cwd=ROOT, env={**env, "DEV_TOOLS": "true"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rows = []
    try:
        wait_for_port(port)
        control = Control(f"http://127.0.0.1:{port}")
        tick = datetime.now(UTC).replace(microsecond=0)

        first = run_workers(env, tick, 1)
        rows.append(("first cycle (all offers new)", args.products, first))
        # Price history on and off, alternately, so that load drifting on the machine hits both.
        history = {"on": [], "off": []}
        for round_number, mode in enumerate(["off", "on", "off", "on"]):
            control.post("/_control/churn/step")
            mode_env = {**env, "PRICE_HISTORY_ENABLED": "true" if mode == "on" else "false"}
            result = run_workers(mode_env, tick + timedelta(seconds=1, milliseconds=round_number), 1)
            history[mode].append(result)
            rows.append((f"one worker, after one churn epoch, price history {mode}", args.products, result))
        tick += timedelta(seconds=1)

        control.post("/_control/churn", {"paused": True})
        writes_before = offer_row_writes()
        unchanged = run_workers(env, tick + timedelta(seconds=2), 1)
        unchanged["offer_rows_written"] = offer_row_writes() - writes_before
        rows.append(("one worker, no upstream change", args.products, unchanged))
        control.post("/_control/churn", {"paused": False})

        control.post("/_control/churn/step")
        control.post("/_control/stats/reset")
        pair = run_workers(env, tick + timedelta(seconds=3), 2)
        stats = control.get("/_control/stats")
        fetches = stats["offers_requests"]
        pair["fetched_twice"] = sum(1 for count in fetches.values() if count > 1)
        pair["products_fetched"] = len(fetches)
        rows.append(("two workers, same tick, after one churn epoch", args.products, pair))

        if args.memory_products > args.products:
            add_registered_products(args.memory_products - args.products)
            big = run_workers(env, tick + timedelta(seconds=4), 1)
            rows.append(("one worker, first cycle at scale", args.memory_products, big))
    finally:
        fake.terminate()
        fake.wait(timeout=15)

    print_report(rows)
    on = sum(r["wall_seconds"] for r in history["on"])
    off = sum(r["wall_seconds"] for r in history["off"])
    print(f"\nPrice history on vs off (after one churn epoch, two cycles each): {on:.2f}s vs {off:.2f}s, "
          f"{(on / off - 1) * 100:+.1f}%")  # fmt: skip


def run_workers(env: dict, tick: datetime, count: int) -> dict:
    """Run `count` workers on one tick at once; wall time, products/s and each one's peak RSS."""
    command = [PYTHON, "manage.py", "run_sync", "--once", "--tick", tick.isoformat()]
    started = time.monotonic()
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    peaks, summaries = [], []
    for worker in workers:
        _, status, usage = os.wait4(worker.pid, 0)
        worker.returncode = os.waitstatus_to_exitcode(status)
        summaries.append(worker.stdout.read().strip())
        if worker.returncode != 0:
            raise SystemExit(f"worker failed ({worker.returncode}): {summaries[-1]}")
        peaks.append(usage.ru_maxrss // 1024)  # kilobytes on Linux
    wall = time.monotonic() - started
    synced = sum(_count(summary, "synced") for summary in summaries)
    return {
        "wall_seconds": round(wall, 2),
        "products_synced": synced,
        "products_per_second": round(synced / wall),
        "peak_rss_mb": max(peaks),
        "summaries": summaries,
    }


def _count(summary: str, name: str) -> int:
    for word in summary.replace(";", " ").split():
        if word.startswith(f"{name}="):
            return int(word.split("=")[1])
    return 0


def offer_row_writes() -> int:
    """Rows inserted, updated or deleted in the offers table so far (PostgreSQL's own counters)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'offers_sync_offer'"
        )
        return cursor.fetchone()[0]


def add_registered_products(count: int) -> None:
    from django.utils import timezone

    from catalogue.models import Product
    from offers_sync.models import ProductSyncState

    now = timezone.now()
    products = Product.objects.bulk_create(
        (Product(name=f"bench product {i}") for i in range(count)), batch_size=5000
    )
    ProductSyncState.objects.bulk_create(
        (ProductSyncState(product_id=p.id, registered_at=now) for p in products), batch_size=5000
    )


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Control:
    def __init__(self, base: str):
        self.base = base

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.base + path, timeout=30) as response:
            return json.load(response)

    def post(self, path: str, body: dict | None = None) -> None:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=120).read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the fake offers service did not start")


def print_report(rows) -> None:
    load = os.getloadavg()
    print(f"\nSync benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} (fake service 20±10 ms, SYNC_CONCURRENCY default)\n")  # fmt: skip
    print("| run | products | wall s | products/s | peak worker RSS MB | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for label, products, result in rows:
        notes = []
        if "offer_rows_written" in result:
            notes.append(f"offer rows written: {result['offer_rows_written']}")
        if "fetched_twice" in result:
            notes.append(f"products fetched: {result['products_fetched']}, fetched twice: {result['fetched_twice']}")
        print(f"| {label} | {products} | {result['wall_seconds']} | {result['products_per_second']} | "
              f"{result['peak_rss_mb']} | {'; '.join(notes)} |")  # fmt: skip
    print("\nWorker summaries (main thread time: claiming / waiting for fetches / reconciling):")
    for label, _, result in rows:
        for summary in result["summaries"]:
            print(f"- {label}: {summary}")


if __name__ == "__main__":
    main()
