"""Benchmark the price-trend and price-history endpoints for a product with 10,000 price events.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aggregator_history .venv/bin/python bench/trend_bench.py
    .venv/bin/python bench/trend_bench.py                 # the configured database (SQLite by default)
    .venv/bin/python bench/trend_bench.py --calls 200     # more calls per case

It migrates the configured database (creating a missing PostgreSQL database first), adds products
named "trend-bench ..." with their price events, calls each endpoint through Django's test client
(URL routing, the view, the queries, the JSON rendering; no HTTP server) and prints, per case, the
wall-clock median and 95th percentile and this process's CPU time as a Markdown table. The
products and their events are deleted at the end (and at the start, if an earlier run kept them).

Two products have 10,000 events each: "year" spreads them over the last 365 days (the default
30-day trend reconstructs the start from the ~9,200 before it and replays ~800); "month" has all
10,000 in the last 30 days (the default trend replays every one: the worst case). About 20 offers
are listed at any time; each event changes one offer's price or stock, and now and then an offer
vanishes and another appears. 100 more products with 500 events each share the table, as other
products would, so that PostgreSQL plans as it would for a real catalogue.
"""

import argparse
import math
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
os.environ.setdefault("SECRET_KEY", "trend-bench-only")
os.environ.setdefault("CURRENCY", "EUR")
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ["DEBUG"] = "false"

EVENTS = 10_000
LIVE_OFFERS = 20
BACKGROUND_PRODUCTS = 100
BACKGROUND_EVENTS = 500


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in DATABASE_URL if it is missing."""
    from aggregator.config import read_database

    config = read_database("DATABASE_URL", url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg

    admin = psycopg.connect(
        host=config["HOST"],
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
            print(f"created database {config['NAME']}")


def fill(product, *, events: int, span: timedelta, now, rng: random.Random) -> None:
    """`events` events for the product, spread evenly over `span` up to `now`."""
    from price_history.models import PriceEvent

    offers = {uuid.uuid4(): [rng.randint(5_000, 20_000), rng.randint(0, 9)] for _ in range(LIVE_OFFERS)}
    start = now - span
    rows = [(o, "appeared", p, s, start) for o, (p, s) in offers.items()]
    while len(rows) < events:
        at = start + span * len(rows) / events
        offer_id = rng.choice(list(offers))
        roll = rng.random()
        if roll < 0.05:  # the offer goes, another comes
            rows.append((offer_id, "vanished", *offers.pop(offer_id), at))
            new_id = uuid.uuid4()
            offers[new_id] = [rng.randint(5_000, 20_000), rng.randint(1, 9)]
            rows.append((new_id, "appeared", *offers[new_id], at))
            continue
        state = offers[offer_id]
        if roll < 0.75:
            state[0] = max(100, round(state[0] * rng.uniform(0.95, 1.05)))
        else:
            state[1] = rng.choice([0, 0, 1, 2, 5, 9])
        rows.append((offer_id, "changed", *state, at))
    PriceEvent.objects.bulk_create(
        (
            PriceEvent(offer_id=o, product=product, kind=k, price=p, items_in_stock=s, observed_at=at)
            for o, k, p, s, at in rows[:events]
        ),
        batch_size=2000,
    )


def database_cpu_ms(connection) -> float | None:
    """CPU time used so far by this connection's PostgreSQL backend (from /proc), or None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the database runs elsewhere
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1000


def measure(client, connection, url: str, calls: int) -> dict:
    """Wall-clock median and p95, the median CPU time of this process (the app's own work: the test
    client runs it in-process) and the database backend's CPU time per call (averaged: /proc counts
    in 10 ms ticks), after 5 unmeasured calls."""
    for _ in range(5):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    walls, cpus = [], []
    db_before = database_cpu_ms(connection)
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    db_after = database_cpu_ms(connection)
    body = response.json()
    walls.sort()
    return {
        "median": statistics.median(walls),
        "p95": walls[min(len(walls) - 1, math.ceil(0.95 * len(walls)) - 1)],
        "cpu": statistics.median(cpus),
        "db_cpu": None if db_before is None or db_after is None else (db_after - db_before) / calls,
        "items": len(body["points"]) if isinstance(body, dict) else len(body),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="measured calls per case (default 50)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark products afterwards")
    args = parser.parse_args()

    if os.environ.get("DATABASE_URL"):
        ensure_postgres_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from catalogue.models import Product
    from price_history.models import PriceEvent

    call_command("migrate", verbosity=0)
    # Products left by an earlier run with --keep would make the table (and the plans) bigger.
    Product.objects.filter(name__startswith="trend-bench ").delete()
    rng = random.Random(5)
    now = timezone.now()
    started = time.perf_counter()
    # Other products' history shares the table, as in a real catalogue; without it the planner
    # sees one product per table and picks plans it never would in production.
    for n in range(BACKGROUND_PRODUCTS):
        other = Product.objects.create(name=f"trend-bench background {n}")
        fill(other, events=BACKGROUND_EVENTS, span=timedelta(days=365), now=now, rng=rng)
    products = {}
    for name, span in (("year", timedelta(days=365)), ("month", timedelta(days=30) - timedelta(minutes=5))):
        products[name] = Product.objects.create(name=f"trend-bench {name}")
        fill(products[name], events=EVENTS, span=span, now=now, rng=rng)
    print(
        f"seeded {BACKGROUND_PRODUCTS} products x {BACKGROUND_EVENTS} events and 2 x {EVENTS} events"
        f" in {time.perf_counter() - started:.1f} s"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE price_history_priceevent")

    client = Client()
    year, month = products["year"].id, products["month"].id
    some_offer = PriceEvent.objects.filter(product_id=year, kind="changed").values_list("offer_id", flat=True)[500]
    middle = (now - timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cases = [
        ("trend, year of history, default 30 days", f"/products/{year}/price-trend"),
        (
            "trend, year of history, whole year",
            f"/products/{year}/price-trend?since={(now - timedelta(days=366)):%Y-%m-%d}",
        ),
        ("trend, year of history, 30 days, interval=day", f"/products/{year}/price-trend?interval=day"),
        ("trend, 10,000 events in the 30 days", f"/products/{month}/price-trend"),
        ("trend, 10,000 events in the 30 days, interval=hour", f"/products/{month}/price-trend?interval=hour"),
        ("trend, 10,000 events in the 30 days, interval=day", f"/products/{month}/price-trend?interval=day"),
        ("history, first page (100)", f"/products/{year}/offers/history"),
        ("history, page of 1,000 from the middle", f"/products/{year}/offers/history?since={middle}&limit=1000"),
        ("history, one offer's events", f"/products/{year}/offers/history?offer={some_offer}"),
    ]
    engine = connection.vendor
    print(f"\nDatabase: {engine} ({settings.DATABASES['default']['NAME']}); {args.calls} calls per case.\n")
    print(f"Load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.\n")
    print("| case | median ms | p95 ms | app CPU ms | DB CPU ms | points/items | bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    try:
        for label, url in cases:
            m = measure(client, connection, url, args.calls)
            db_cpu = "n/a" if m["db_cpu"] is None else f"{m['db_cpu']:.1f}"
            print(
                f"| {label} | {m['median']:.1f} | {m['p95']:.1f} | {m['cpu']:.1f} | {db_cpu} "
                f"| {m['items']:,} | {m['bytes']:,} |"
            )
        print(f"\nLoad average after: {os.getloadavg()[0]:.1f}.")
    finally:
        if not args.keep:
            Product.objects.filter(name__startswith="trend-bench ").delete()


if __name__ == "__main__":
    main()
