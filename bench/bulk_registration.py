"""How many sync cycles register a bulk load: 10,000 products made by the bulk service, then
`manage.py run_sync --once` cycle after cycle until none is pending.

PostgreSQL (a database of its own, dropped and created: `--database-url`), the project's fake
offers service answering in 20 ms ± 10 ms, the worker exactly as deployed (SYNC_CONCURRENCY
default). Prints each cycle's wall time and the products still pending after it.

    .venv/bin/python bench/bulk_registration.py [--products 10000]
"""

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, ROOT, bench_env, drop_database, setup_django  # noqa: E402
from sync_bench import REFRESH_TOKEN, _count, free_port, wait_for_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aggregator_regbench")
    args = parser.parse_args()
    port = free_port()
    env = bench_env(
        args.database_url,
        OFFERS_SERVICE_URL=f"http://127.0.0.1:{port}",
        OFFERS_REFRESH_TOKEN=REFRESH_TOKEN,
        SYNC_HEARTBEAT_FILE="/tmp/aggregator-regbench-heartbeat",
    )
    env.pop("SYNC_CONCURRENCY", None)
    # In this process no offers service: the bulk load leaves every product for the worker to register.
    setup_django(bench_env(args.database_url))
    from catalogue.models import Product
    from catalogue.services import BULK_CREATE_MAX, products_bulk_create

    for start in range(0, args.products, BULK_CREATE_MAX):
        count = min(BULK_CREATE_MAX, args.products - start)
        products_bulk_create(items=[{"name": f"bulk {start + i}"} for i in range(count)])
    fake = subprocess.Popen(
        [PYTHON, "manage.py", "run_fake_offers", "--port", str(port), "--refresh-token", REFRESH_TOKEN,
         "--latency-ms", "20", "--jitter-ms", "10", "--seed", "1", "--churn-interval", "0"],
        cwd=ROOT, env={**env, "DEV_TOOLS": "true"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        tick = datetime.now(UTC).replace(microsecond=0)
        cycle = 0
        while Product.objects.filter(sync_state__registered_at__isnull=True).exists() and cycle < 50:
            cycle += 1
            command = [
                PYTHON,
                "manage.py",
                "run_sync",
                "--once",
                "--tick",
                (tick + timedelta(seconds=cycle)).isoformat(),
            ]
            started = time.monotonic()
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            pending = Product.objects.filter(sync_state__registered_at__isnull=True).count()
            print(
                f"cycle {cycle}: {time.monotonic() - started:.1f} s, registered "
                f"{_count(done.stdout, 'registered')}, still pending {pending}\n  {done.stdout.strip()}"
            )
    finally:
        fake.terminate()
        fake.wait(30)
        from django.db import connections

        connections.close_all()
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
