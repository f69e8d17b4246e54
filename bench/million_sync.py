"""Benchmark the sync and the price history at a million products: claim, a worker's cycle, history.

    .venv/bin/python bench/million.py --keep-db         # builds the catalogue (and measures search, admin)
    .venv/bin/python bench/million_sync.py              # then this, on the database it kept
    .venv/bin/python bench/million_sync.py --parts claim,history
    .venv/bin/python bench/million_sync.py --sync-seconds 600 --latency-ms 0 --jitter-ms 0

It works on the database bench/million.py built and kept (BENCH_DATABASE_URL, same default), and
leaves it as it found it for the next run (sync state unclaimed, vacuumed), apart from the offers
and price events the worker's cycle rewrote. Its parts (`--parts`, in this order):

- `history`: the price-history endpoints through Django's test client, as bench/million.py measures
  the other cases (each RUNS times after a warm-up; median and slowest wall time, this process's
  CPU, `EXPLAIN (ANALYZE, BUFFERS)` of every query and their execution time): a product's history
  page, trends over the default period (the last 30 days) and over a year, and the changes feed's
  first page, its next one and a page from the middle. (The build spreads each product's ten
  events over the year, one every five weeks or so.) Besides, bench/trend_bench.py's busy product
  (10,000 events over a year) is given to one product of the catalogue, once, and measured as
  trend_bench measures it.
- `claim`: the worker's claim statement (`offers_sync.sync_states.products_claim_for_tick`, a batch of
  64), committed batch after batch as a worker does: CLAIMS claims at the start of a cycle, then,
  after half the catalogue was claimed and committed in one statement (not yet vacuumed), CLAIMS
  more; with the plans at each point. The same on a catalogue of `--small-products` (10,000, built
  by bench/million.py's build in a database of its own, dropped after), to compare.
- `sync`: one `manage.py run_sync --once --tick …` worker (default settings, as deployed) over the
  whole catalogue, against the project's fake offers service in its own process (auto-registering,
  answering in `--latency-ms` ± `--jitter-ms`). Every few seconds: the worker's resident memory
  (VmRSS, and VmHWM, its peak so far, from /proc), its CPU, the products claimed for the tick; at a
  quarter, half and three quarters of the catalogue, the plan of the claim run beside it. Stopped
  with SIGTERM (it finishes what it has in hand) after `--sync-seconds` if not done by then. The
  built offers are not the fake's, so this cycle replaces every product's offers (about 5 removed,
  4.5 added, as many price events): more writing per product than a cycle in steady state.

The report (Markdown) is printed and written to bench/results/million-sync-*.md.
"""

import argparse
import base64
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import million  # noqa: E402  (the build, the database helpers)
import sync_bench  # noqa: E402  (CPU of processes and of PostgreSQL backends, free ports)
import trend_bench  # noqa: E402  (a product's year of price events)

ROOT = BENCH.parent
PYTHON = sys.executable
REFRESH_TOKEN = "bench-refresh-token"
BATCH = 64  # the worker's batch at the default SYNC_CONCURRENCY (16 × 4)
PARTS = ("history", "claim", "sync")
STATE = "offers_sync_productsyncstate"


def log(message: str) -> None:
    print(f"million_sync: {message}", flush=True)


def setup_django(url: str) -> None:
    os.environ.update(million.django_env(url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def explain(conn, statement: str) -> tuple[str, float]:
    """The plan of `statement` (run, then rolled back) and its execution time in ms."""
    plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))
    conn.rollback()
    return plan, float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))


# -- history ---------------------------------------------------------------------------------


def busy_product(count: int):
    """A product with a year of history, 10,000 events, as bench/trend_bench.py's (added once)."""
    import random

    from django.utils import timezone

    from catalogue.models import Product
    from price_history.models import PriceEvent

    product = Product.objects.filter(name__icontains=f"product {count // 3:07d}").first()
    if PriceEvent.objects.filter(product=product).count() < trend_bench.EVENTS:
        trend_bench.fill(
            product, events=trend_bench.EVENTS, span=timedelta(days=365), now=timezone.now(), rng=random.Random(5)
        )
    return product


def history_cases() -> list[million.Case]:
    """The price-history endpoints, on products from the middle and the newest end of the catalogue."""
    from catalogue.models import Product
    from price_history.models import PriceEvent

    count = Product.objects.count()
    middle = Product.objects.filter(name__icontains=f"product {count // 2:07d}").values_list("id", flat=True)[0]
    busy = busy_product(count).id
    year_start = f"{datetime.now(UTC) - timedelta(days=366):%Y-%m-%d}"
    newest = Product.objects.order_by("-created_at", "-id").values_list("id", flat=True)[0]
    year_ago = quote((datetime.now(UTC) - timedelta(days=365)).isoformat(timespec="seconds"))
    middle_event = (
        PriceEvent.objects.filter(id__gte=PriceEvent.objects.order_by("-id").values_list("id", flat=True)[0] // 2)
        .order_by("id")
        .values("xact_id", "id")[0]
    )
    cursor = base64.urlsafe_b64encode(json.dumps([str(middle_event["xact_id"]), str(middle_event["id"])]).encode())
    return [
        million.Case("History of a product, first page (its 10 events)", f"/products/{middle}/offers/history"),
        million.Case("Trend, default period (30 days), a product from the middle", f"/products/{middle}/price-trend"),
        million.Case("Trend, default period (30 days), the newest product", f"/products/{newest}/price-trend"),
        million.Case("Trend over the last 365 days", f"/products/{middle}/price-trend?since={year_ago}"),
        million.Case(
            "Trend over the last 365 days, daily points",
            f"/products/{middle}/price-trend?since={year_ago}&interval=day",
        ),
        million.Case("Busy product (10,000 events in a year): trend, default 30 days", f"/products/{busy}/price-trend"),
        million.Case("Busy product: trend, whole year", f"/products/{busy}/price-trend?since={year_start}"),
        million.Case("Busy product: trend, 30 days, interval=day", f"/products/{busy}/price-trend?interval=day"),
        million.Case("Busy product: history, first page (100)", f"/products/{busy}/offers/history"),
        million.Case("Changes feed, first page (100)", "/offers/changes"),
        million.Case("Changes feed, a page from the middle", f"/offers/changes?cursor={cursor.decode().rstrip('=')}"),
    ]


def measure_history(runs: int) -> tuple[list[dict], list[tuple[str, str]]]:
    from django.test import Client

    client = Client()
    cases = history_cases()
    first = client.get("/offers/changes")
    link = re.fullmatch(r'<http://testserver([^>]+)>; rel="next"', first.headers["Link"]).group(1)
    cases.insert(-1, million.Case("Changes feed, the next page (Link of the first)", link))
    rows, explains = [], []
    for case in cases:
        row, case_explains = million.measure_case(client, case, runs, _history_summary)
        rows.append(row)
        explains += case_explains
        database_ms = row["database_ms"]
        log(f"{case.title}: {rows[-1]['median_ms']:.1f} ms median, DB {database_ms:.1f} ms, {rows[-1]['summary']}")
    return rows, explains


def _history_summary(response) -> str:
    data = response.json()
    if isinstance(data, list):
        return f"{len(data)} events" + (", Link next" if "Link" in response.headers else "")
    starts = data["history_starts_at"] or "before since"
    return f"{len(data['points'])} point{'' if len(data['points']) == 1 else 's'}, history from {starts}"


# -- claim -----------------------------------------------------------------------------------


def claim_sql(tick: datetime) -> str:
    """The worker's claim statement for `tick`, as it sends it (captured, rolled back)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from offers_sync import sync_states

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        sync_states.products_claim_for_tick(tick=tick, worker="bench", limit=BATCH)
        transaction.set_rollback(True)
    (query,) = queries.captured_queries
    return query["sql"]


def claim_series(conn, statement: str, claims: int) -> list[float]:
    """Run the claim `claims` times, each committed, as a worker does batch after batch; ms each."""
    times = []
    for _ in range(claims):
        started = time.perf_counter()
        claimed = conn.execute(statement).fetchall()
        conn.commit()
        times.append((time.perf_counter() - started) * 1000)
        assert len(claimed) == BATCH, len(claimed)
    return times


def reset_sync_state(conn) -> None:
    """Every product unclaimed again and the table vacuumed, as a --reuse-db run expects."""
    conn.execute(f"UPDATE {STATE} SET sync_claimed_for = '1970-01-01T00:00:00Z', sync_claimed_by = ''")
    conn.commit()
    conn.autocommit = True
    conn.execute(f"VACUUM ANALYZE {STATE}")
    conn.autocommit = False


def measure_claims(url: str, statement: str, tick: datetime, claims: int) -> tuple[dict, list[tuple[str, str]]]:
    """The claim's cost at the start of a cycle and half-way through it, on the database at `url`."""
    with psycopg.connect(url) as conn:
        products = conn.execute(f"SELECT count(*) FROM {STATE}").fetchone()[0]
        size = f"{products:,} products"
        plans, result = [], {"products": products}
        plan, result["start_plan_ms"] = explain(conn, statement)
        plans.append((f"{size}: claim at the start of a cycle (nothing claimed for this tick)", plan))
        result["start"] = claim_series(conn, statement, claims)
        plan, result["after_series_plan_ms"] = explain(conn, statement)
        plans.append((f"{size}: claim after {claims} batches claimed and committed one by one", plan))
        # Half the catalogue claimed and committed, in the claim's own order, as workers leave it
        # half-way through a tick; the old index entries of those rows wait for vacuum.
        started = time.monotonic()
        conn.execute(
            f"UPDATE {STATE} SET sync_claimed_for = %s, sync_claimed_by = 'other' WHERE product_id IN ("
            f"SELECT product_id FROM {STATE} WHERE registered_at IS NOT NULL AND sync_claimed_for < %s "
            f"ORDER BY sync_claimed_for LIMIT %s)",
            [tick, tick, products // 2 - claims * BATCH],
        )
        conn.commit()
        log(f"{size}: half claimed in {time.monotonic() - started:.1f} s")
        plan, result["half_first_plan_ms"] = explain(conn, statement)
        plans.append((f"{size}: first claim after half the catalogue was claimed", plan))
        plan, result["half_second_plan_ms"] = explain(conn, statement)
        plans.append((f"{size}: second claim after half the catalogue was claimed", plan))
        result["half"] = claim_series(conn, statement, claims)
        reset_sync_state(conn)
    log(
        f"{size}: claim median {statistics.median(result['start']):.2f} ms at the start, "
        f"{statistics.median(result['half']):.2f} ms half-way"
    )
    return result, [(title, f"{statement}\n\n{plan}") for title, plan in plans]


def measure_claim_part(url: str, small_products: int, claims: int) -> tuple[list[dict], list[tuple[str, str]]]:
    tick = datetime.now(UTC).replace(microsecond=0)
    statement = claim_sql(tick)
    results, explains = [], []
    large, plans = measure_claims(url, statement, tick, claims)
    results.append(large)
    explains += plans
    if small_products:
        # The suffix on the database name, before any query string (?sslmode=…).
        base, _, query = url.partition("?")
        small_url = base + "_small" + (f"?{query}" if query else "")
        log(f"building {small_products:,} products in {million.database_name(small_url)}")
        million.recreate_database(small_url)
        try:
            million.migrate(small_url)
            million.build(small_url, products=small_products, offers_per_product=5, events_per_offer=2)
            small, plans = measure_claims(small_url, statement, tick, claims)
            results.insert(0, small)
            explains = plans + explains
        finally:
            million.drop_database(small_url)
    return results, explains


# -- a worker's cycle ------------------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) if found else None


def run_cycle(url: str, *, seconds: float, latency_ms: float, jitter_ms: float, every: float) -> dict:
    port = sync_bench.free_port()
    env = {
        **million.django_env(url),
        "OFFERS_SERVICE_URL": f"http://127.0.0.1:{port}",
        "OFFERS_REFRESH_TOKEN": REFRESH_TOKEN,
        "LOG_LEVEL": "WARNING",
        "SYNC_HEARTBEAT_FILE": "/tmp/aggregator-million-sync-heartbeat",
    }
    env.pop("SYNC_CONCURRENCY", None)  # the default
    fake = subprocess.Popen(
        [PYTHON, "manage.py", "run_fake_offers", "--port", str(port), "--refresh-token", REFRESH_TOKEN,
         "--auto-register", "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms), "--seed", "1",
         "--churn-interval", "0"],
        cwd=ROOT, env={**env, "DEV_TOOLS": "true"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    tick = datetime.now(UTC).replace(microsecond=0)
    statement = claim_sql(tick)
    samples, plans = [], []
    try:
        sync_bench.wait_for_port(port)
        with psycopg.connect(url, autocommit=True) as watcher:
            products = watcher.execute(f"SELECT count(*) FROM {STATE} WHERE registered_at IS NOT NULL").fetchone()[0]
            database = sync_bench.DatabaseCpu(url)
            database.exclude.add(watcher.info.backend_pid)  # this benchmark's own queries are not the sync's
            fake_cpu_before = sync_bench.process_cpu_s(fake.pid)
            started = time.monotonic()
            worker = subprocess.Popen(
                [PYTHON, "manage.py", "run_sync", "--once", "--tick", tick.isoformat()],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            timer = threading.Timer(seconds, worker.send_signal, [signal.SIGTERM])
            timer.start()
            stop = threading.Event()
            marks = [0.25, 0.5, 0.75]

            def sample() -> None:
                # Its own connection: the watcher's explains run between samples.
                with psycopg.connect(url, autocommit=True) as conn:
                    database.exclude.add(conn.info.backend_pid)
                    while not stop.wait(every):
                        claimed = conn.execute(
                            f"SELECT count(*) FROM {STATE} WHERE registered_at IS NOT NULL AND sync_claimed_for = %s",
                            [tick],
                        ).fetchone()[0]
                        samples.append(
                            {
                                "seconds": time.monotonic() - started,
                                "claimed": claimed,
                                "rss_mb": (_status_kb(worker.pid, "VmRSS") or 0) / 1024,
                                "hwm_mb": (_status_kb(worker.pid, "VmHWM") or 0) / 1024,
                                "worker_cpu_s": sync_bench.process_cpu_s(worker.pid),
                                "fake_rss_mb": (_status_kb(fake.pid, "VmRSS") or 0) / 1024,
                            }
                        )

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            while True:
                pid, status, usage = os.wait4(worker.pid, os.WNOHANG)
                if pid:
                    worker.returncode = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(1)
                if marks and samples and samples[-1]["claimed"] >= marks[0] * products:
                    watcher.autocommit = False
                    plan, ms = explain(watcher, statement)
                    watcher.autocommit = True
                    share = marks.pop(0)
                    plans.append((f"Claim in the worker's cycle, {share:.0%} claimed", f"{statement}\n\n{plan}"))
                    log(f"claim with {samples[-1]['claimed']:,} claimed: {ms:.1f} ms")
            wall = time.monotonic() - started
            timer.cancel()
            stop.set()
            sampler.join()
            summary = worker.stdout.read().strip()
            database_cpu = database.stop()
            fake_cpu = sync_bench.process_cpu_s(fake.pid) - fake_cpu_before
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    if worker.returncode != 0:
        raise SystemExit(f"the worker failed ({worker.returncode}): {summary}")
    synced = sync_bench._count(summary, "synced")
    worker_cpu, peak_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    result = {
        "tick": tick.isoformat(),
        "products": products,
        "latency": f"{latency_ms:g} ± {jitter_ms:g} ms",
        "wall_seconds": wall,
        "products_synced": synced,
        "products_per_second": synced / wall,
        "worker_cpu_ms": worker_cpu * 1000 / max(synced, 1),
        "database_cpu_ms": database_cpu * 1000 / max(synced, 1),
        "fake_cpu_ms": fake_cpu * 1000 / max(synced, 1),
        "peak_rss_mb": peak_mb,
        "summary": summary,
        "samples": samples,
        "stopped": wall >= seconds,
    }
    log(
        f"cycle: {synced:,} synced in {wall:.0f} s ({result['products_per_second']:.0f}/s), "
        f"peak RSS {peak_mb:.0f} MB; {summary}"
    )
    return result, plans


def restore_after_cycle(url: str) -> None:
    with psycopg.connect(url) as conn:
        reset_sync_state(conn)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE offers_sync_offer")
        conn.execute("VACUUM ANALYZE price_history_priceevent")


# -- report ----------------------------------------------------------------------------------


def report(*, history_rows, claim_results, cycle, explains, load_before, claims) -> str:
    lines = [f"# The sync and history at a million products: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", ""]
    lines += [f"Load average before: {load_before}.", ""]
    if history_rows:
        lines += [
            "## Price history",
            "",
            "| case | median ms | slowest ms | app CPU ms | DB ms | queries | what it showed |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| {r['case']} | {r['median_ms']:.1f} | {r['max_ms']:.1f} | {r['app_cpu_ms']:.1f} | "
            f"{r['database_ms']:.1f} | {r['queries']} | {r['summary']} |"
            for r in history_rows
        ]
        lines.append("")
    if claim_results:
        lines += [
            f"## The claim (batch of {BATCH}, {claims} claims committed one by one at each point; ms)",
            "",
            "| products | start: median | p90 | slowest | half-way: median | p90 | slowest | "
            "EXPLAIN ms: start / after the series / half-way first / second |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in claim_results:
            cells = []
            for key in ("start", "half"):
                t = sorted(r[key])
                cells += [f"{statistics.median(t):.2f}", f"{t[int(len(t) * 0.9)]:.2f}", f"{t[-1]:.2f}"]
            lines.append(
                f"| {r['products']:,} | {' | '.join(cells)} | {r['start_plan_ms']:.2f} / "
                f"{r['after_series_plan_ms']:.2f} / {r['half_first_plan_ms']:.2f} / {r['half_second_plan_ms']:.2f} |"
            )
        lines.append("")
    if cycle:
        lines += [
            f"## A worker's cycle over {cycle['products']:,} products (fake service {cycle['latency']})",
            "",
            f"- {'stopped (SIGTERM) after' if cycle['stopped'] else 'completed in'} {cycle['wall_seconds']:.0f} s: "
            f"{cycle['products_synced']:,} products synced, {cycle['products_per_second']:.0f}/s",
            f"- CPU per product: worker {cycle['worker_cpu_ms']:.2f} ms, PostgreSQL {cycle['database_cpu_ms']:.2f} ms, "
            f"fake {cycle['fake_cpu_ms']:.2f} ms",
            f"- peak RSS of the worker: {cycle['peak_rss_mb']:.0f} MB",
            f"- summary: `{cycle['summary']}`",
            "",
            "| seconds | products claimed | products/s since the last row | worker RSS MB | peak so far MB "
            "| worker CPU s | fake RSS MB |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        previous = {"seconds": 0.0, "claimed": 0}
        step = max(1, len(cycle["samples"]) // 20)
        shown = cycle["samples"][::step]
        if cycle["samples"] and shown[-1] is not cycle["samples"][-1]:
            shown.append(cycle["samples"][-1])
        for s in shown:
            rate = (s["claimed"] - previous["claimed"]) / max(s["seconds"] - previous["seconds"], 1e-9)
            lines.append(
                f"| {s['seconds']:.0f} | {s['claimed']:,} | {rate:.0f} | {s['rss_mb']:.1f} | {s['hwm_mb']:.1f} "
                f"| {s['worker_cpu_s']:.0f} | {s['fake_rss_mb']:.0f} |"
            )
            previous = s
        lines.append("")
    lines += ["## EXPLAIN (ANALYZE, BUFFERS)", ""]
    for title, text in explains:
        lines += [f"### {title}", "", "```", text, "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help="Comma-separated: " + ", ".join(PARTS))
    parser.add_argument("--runs", type=int, default=20, help="timed requests per history case")
    parser.add_argument("--claims", type=int, default=50, help="claims committed one by one at each point")
    parser.add_argument("--small-products", type=int, default=10_000, help="the catalogue to compare the claim with")
    parser.add_argument("--sync-seconds", type=float, default=1500, help="SIGTERM the worker after this long")
    parser.add_argument("--latency-ms", type=float, default=2)
    parser.add_argument("--jitter-ms", type=float, default=2)
    parser.add_argument("--sample-seconds", type=float, default=10)
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))}")
    url = os.environ.get("BENCH_DATABASE_URL", million.DEFAULT_DATABASE_URL)
    if "bench" not in million.database_name(url):
        raise SystemExit("the benchmark's database name must contain 'bench'")
    # Stopped from outside: still stop the fake service and the worker (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("million_sync: stopped"))
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    setup_django(url)
    history_rows, claim_results, cycle, explains = [], [], None, []
    if "history" in parts:
        history_rows, plans = measure_history(args.runs)
        explains += plans
    if "claim" in parts:
        claim_results, plans = measure_claim_part(url, args.small_products, args.claims)
        explains += plans
    if "sync" in parts:
        try:
            cycle, plans = run_cycle(
                url,
                seconds=args.sync_seconds,
                latency_ms=args.latency_ms,
                jitter_ms=args.jitter_ms,
                every=args.sample_seconds,
            )
            explains += plans
        finally:
            restore_after_cycle(url)
    from django.db import connections

    connections.close_all()
    text = report(
        history_rows=history_rows,
        claim_results=claim_results,
        cycle=cycle,
        explains=explains,
        load_before=load_before,
        claims=args.claims,
    )
    path = million.write_report(text, "million-sync")
    if cycle:
        path.with_suffix(".json").write_text(json.dumps(cycle, indent=1))


if __name__ == "__main__":
    main()
