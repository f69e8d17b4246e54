"""What throttling costs per request: off, process memory (the default) and the database cache.

    .venv/bin/python bench/throttle_cost.py [--database-url postgres://…/aggregator_throttlebench] [--requests 500]

Runs anonymous `GET /products/{id}` in this process through Django's test client (no network),
from one address, under a rate just above the request count, so each request reads and writes
a counter history that grows to the full count (the worst case for a given rate). Prints the
mean time per request for each cache. The database cache needs its table; the script creates it.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aggregator_throttlebench")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "SECRET_KEY": "bench-only",
            "CURRENCY": "EUR",
            "DEBUG": "false",
            "LOG_LEVEL": "ERROR",
            "DJANGO_SETTINGS_MODULE": "aggregator.settings",
            "THROTTLE_CACHE_URL": "locmemcache://throttle",
        }
    )
    sys.path.insert(0, str(ROOT))
    if args.database_url.startswith("postgres"):
        name = args.database_url.rsplit("/", 1)[1]
        admin = args.database_url.rsplit("/", 1)[0] + "/postgres"
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command
    from django.test import Client

    from catalogue.models import Product

    settings.ALLOWED_HOSTS = ["*"]
    settings.CACHES["throttle_db"] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "bench_cache",
    }
    call_command("createcachetable", "bench_cache", verbosity=0)
    product = Product.objects.create(name="bench")
    client = Client()
    rate = f"{args.requests + 1}/minute"

    from aggregator import throttling

    def one_round(cache_alias: str, rate: str | None) -> float:
        throttling.THROTTLE_CACHE = cache_alias
        settings.THROTTLE_RATES = {"anon_read": rate, "write": rate}
        caches[cache_alias].clear()
        started = time.perf_counter()
        for _ in range(args.requests):
            response = client.get(f"/products/{product.id}")
            assert response.status_code == 200, response.status_code
        return (time.perf_counter() - started) / args.requests * 1000

    setups = {
        "throttling off": ("throttle", None),
        "process memory (locmemcache, default)": ("throttle", rate),
        "database cache (dbcache)": ("throttle_db", rate),
    }
    timings = {label: [] for label in setups}
    # Interleaved, and the best round counts: on a shared machine the noise only ever adds time.
    for _ in range(args.rounds):
        for label, (alias, setup_rate) in setups.items():
            timings[label].append(one_round(alias, setup_rate))
    print(f"{args.requests} anonymous GET /products/{{id}} per round, one address, rate {rate}, {args.database_url}")
    for label, values in timings.items():
        print(
            f"{label:<40} best {min(values):6.3f} ms/request, median {statistics.median(values):6.3f} "
            f"({args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
