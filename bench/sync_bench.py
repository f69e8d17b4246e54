"""Benchmark of the offer sync: the four cycles of a worker, side by side with another version.

    .venv/bin/python bench/sync_bench.py --database-url postgres://postgres@127.0.0.1:5432/<yours>
    .venv/bin/python bench/sync_bench.py --compare /tmp/before      # the same runs with that tree's worker
    .venv/bin/python bench/sync_bench.py --scale-products 1000000 --scale-seconds 60   # memory and claim at scale

It uses PostgreSQL (a database of its own, dropped and created: `--database-url`), the project's
fake offers service in its own process answering in 20 ms ± 10 ms, and `manage.py run_sync --once
--tick …` as the worker, exactly as deployed. The cycles (`--scenarios`):

- `first`: every offer new (the offers and price events are emptied first);
- `churn`: heavy churn, 20 churn epochs between cycles, so nearly every product's offers change;
- `unchanged`: nothing changed upstream since the last cycle (and no offer row may be written);
- `pair`: two workers on one tick after heavy churn (no product may be fetched twice);
- `sweep`: heavy churn with SYNC_CONCURRENCY at each of `--sweep` (default 16, 32, 64);
- `history`: heavy churn with the price history off and on, alternately (this tree's worker only);
- `bound`: the offers service's own bound on this machine: the worker's client alone, fetching
  every product once from `SYNC_CONCURRENCY` threads (16, and each of `--sweep` when `sweep` runs
  too), with no database work and no process start: what any worker could do at best here.

With `--compare DIR` (a checkout of another version, e.g. `git archive main | tar -x -C DIR`)
every run is made once with DIR's worker and once with this tree's, alternating which goes
first, so load drifting on a shared machine hits both alike. Everything runs on loopback and
shares the machine's cores, so besides wall time each row gives the CPU per product of the
worker, of its PostgreSQL backends and of the fake service, which depend much less on what else
the machine is doing.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import CLOCK_TICKS, PYTHON, ROOT, bench_env, proc_stat, setup_django

REFRESH_TOKEN = "bench-refresh-token"
HEAVY_CHURN_EPOCHS = 20  # about 96% of products change (15% per epoch)
SCENARIOS = ("bound", "first", "churn", "unchanged", "pair", "sweep", "history")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aggregator_syncbench"))  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="Port for the fake offers service (default: a free one).")
    parser.add_argument("--compare", type=Path, help="Another version's tree: run its worker beside this one's.")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="Comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=1, help="Runs of each cycle per version.")
    parser.add_argument("--sweep", default="16,32,64", help="SYNC_CONCURRENCY values for the sweep.")
    parser.add_argument("--scale-products", type=int, default=0, help="Then grow the catalogue to this many products…")
    parser.add_argument("--scale-seconds", type=float, default=60, help="…and run a worker on it this long (SIGTERM).")
    args = parser.parse_args()
    # Stopped from outside: still stop the fake service and the workers (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("sync bench: stopped"))
    scenarios = [s for s in args.scenarios.split(",") if s]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")

    port = args.port or free_port()
    env = bench_env(
        args.database_url,
        OFFERS_SERVICE_URL=f"http://127.0.0.1:{port}",
        OFFERS_REFRESH_TOKEN=REFRESH_TOKEN,
        SYNC_HEARTBEAT_FILE="/tmp/aggregator-sync-bench-heartbeat",
    )
    env.pop("SYNC_CONCURRENCY", None)  # default settings
    versions = [("after", ROOT)]
    if args.compare:
        versions.insert(0, ("before", args.compare.resolve()))

    setup_django(bench_env(args.database_url))  # in this process, no offers service
    add_registered_products(args.products)

    fake = subprocess.Popen(
        [PYTHON, "manage.py", "run_fake_offers", "--port", str(port), "--refresh-token", REFRESH_TOKEN,
         "--auto-register", "--latency-ms", "20", "--jitter-ms", "10", "--seed", "1", "--churn-interval", "0"],
        cwd=ROOT, env={**env, "DEV_TOOLS": "true"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rows = []
    bench = Bench(env=env, fake_pid=fake.pid, database_url=args.database_url)
    try:
        wait_for_port(port)
        bench.control = Control(f"http://127.0.0.1:{port}")
        # One cycle first, unmeasured, so every scenario starts from a synced cache and a token.
        bench.run(ROOT, workers=1)
        if "bound" in scenarios:
            sweep = [int(c) for c in args.sweep.split(",")] if "sweep" in scenarios else []
            for concurrency in dict.fromkeys([16, *sweep]):
                label = f"offers service alone, {concurrency} in flight (the client, no database)"
                rows.append((label, "after", args.products, bench.fetch_alone(f"http://127.0.0.1:{port}", concurrency)))

        def each_version(label, prepare, **kwargs):
            for round_number in range(args.rounds):
                order = versions if round_number % 2 == 0 else versions[::-1]
                for version, code in order:
                    prepare()
                    rows.append((label, version, args.products, bench.run(code, **kwargs)))

        if "first" in scenarios:
            each_version("first cycle (every offer new)", bench.empty_cache)
        if "churn" in scenarios:
            each_version("heavy churn", bench.heavy_churn)
        if "unchanged" in scenarios:
            bench.heavy_churn()
            bench.run(ROOT, workers=1)  # in step with the service again
            each_version("nothing changed", lambda: None, count_writes=True)
        if "pair" in scenarios:
            each_version("two workers, one tick, heavy churn", bench.heavy_churn, workers=2, count_fetches=True)
        if "sweep" in scenarios:
            for concurrency in [int(c) for c in args.sweep.split(",")]:
                each_version(f"heavy churn, SYNC_CONCURRENCY={concurrency}", bench.heavy_churn, concurrency=concurrency)
        if "history" in scenarios:
            for mode in ("off", "on", "off", "on"):
                bench.heavy_churn()
                result = bench.run(ROOT, extra_env={"PRICE_HISTORY_ENABLED": "true" if mode == "on" else "false"})
                rows.append((f"heavy churn, price history {mode}", "after", args.products, result))
        if args.scale_products > args.products:
            add_registered_products(args.scale_products - args.products)
            print("claim before the scale run:\n" + explain_claim(), flush=True)
            result = bench.run(ROOT, stop_after=args.scale_seconds)
            label = f"one worker, {args.scale_seconds:.0f} s of a first cycle"
            rows.append((label, "after", args.scale_products, result))
            print("claim after it:\n" + explain_claim(), flush=True)
    finally:
        fake.terminate()
        fake.wait(timeout=15)
    print_report(rows)


class Bench:
    """Runs workers against the fake service and measures what each run cost."""

    def __init__(self, *, env: dict, fake_pid: int, database_url: str):
        self.env = env
        self.fake_pid = fake_pid
        self.database_url = database_url
        self.control: Control | None = None
        self.tick = datetime.now(UTC).replace(microsecond=0)

    def empty_cache(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE offers_sync_offer, price_history_priceevent")

    def heavy_churn(self) -> None:
        self.control.post("/_control/churn/step", {"epochs": HEAVY_CHURN_EPOCHS})

    def fetch_alone(self, url: str, concurrency: int) -> dict:
        """Every product's offers fetched once by the worker's client from `concurrency` threads, nothing else.

        The token is the workers' (from the database, as theirs); the fake's state does not move
        (its churn is stepped by hand), so the next cycle finds what it would have found anyway.
        """
        from catalogue.models import Product
        from offers_sync.client import OffersServiceClient
        from offers_sync.tokens import DatabaseTokenSource

        product_ids = list(Product.objects.values_list("id", flat=True))
        client = OffersServiceClient(url, pool_size=concurrency)
        tokens = DatabaseTokenSource(client, REFRESH_TOKEN)
        tokens.get()
        load = os.getloadavg()[0]
        fake_before, own_before = process_cpu_s(self.fake_pid), process_cpu_s(os.getpid())
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            fetched = sum(1 for offers in pool.map(lambda pid: client.get_offers(tokens, pid), product_ids) if offers)
        wall = time.monotonic() - started
        per_product = 1000 / len(product_ids)
        client.close()
        result = {
            "wall_seconds": round(wall, 2),
            "products_synced": len(product_ids),
            "products_per_second": round(len(product_ids) / wall),
            "cycle_products_per_second": round(len(product_ids) / wall),
            "worker_cpu_ms": round((process_cpu_s(os.getpid()) - own_before) * per_product, 2),
            "database_cpu_ms": 0.0,
            "fake_cpu_ms": round((process_cpu_s(self.fake_pid) - fake_before) * per_product, 2),
            "peak_rss_mb": "",
            "load_average": round(load, 1),
            "summaries": [],
            "notes": f"{fetched} answers with offers; mean fetch {1000 * concurrency * wall / len(product_ids):.1f} ms",
        }
        print(f"  alone: {json.dumps({k: v for k, v in result.items() if k != 'summaries'})}", flush=True)
        return result

    def run(self, code: Path, *, workers: int = 1, concurrency: int | None = None, count_writes: bool = False,
            count_fetches: bool = False, stop_after: float | None = None,
            extra_env: dict | None = None) -> dict:  # fmt: skip
        """Run `workers` workers of the tree `code` on a new tick; wall time, rate, CPU, peak RSS."""
        self.tick += timedelta(seconds=1)  # a claim needs a tick later than the last
        env = {**self.env, **(extra_env or {})}
        if concurrency is not None:
            env["SYNC_CONCURRENCY"] = str(concurrency)
        if count_fetches:
            self.control.post("/_control/stats/reset")
        writes_before = table_writes()
        load = os.getloadavg()[0]
        fake_before = process_cpu_s(self.fake_pid)
        database = DatabaseCpu(self.database_url)
        command = [PYTHON, "manage.py", "run_sync", "--once", "--tick", self.tick.isoformat()]
        started = time.monotonic()
        procs = [subprocess.Popen(command, cwd=code, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(workers)]  # fmt: skip
        timer = None
        if stop_after:
            timer = threading.Timer(stop_after, lambda: [p.send_signal(signal.SIGTERM) for p in procs])
            timer.start()
        summaries, worker_cpu = [], 0.0
        peaks = PeakMemory([proc.pid for proc in procs])
        try:
            for proc in procs:
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                summaries.append(proc.stdout.read().strip())
                if proc.returncode != 0 and not stop_after:
                    raise SystemExit(f"worker failed ({proc.returncode}): {summaries[-1]}")
                worker_cpu += usage.ru_utime + usage.ru_stime
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    proc.wait()
            if timer:
                timer.cancel()
            peak_rss_mb = peaks.stop()
        wall = time.monotonic() - started
        database_cpu = database.stop()
        fake_cpu = process_cpu_s(self.fake_pid) - fake_before
        synced = sum(_count(summary, "synced") for summary in summaries)
        per_product = 1000 / max(synced, 1)
        # The cycles' own rate, without the processes' start (Django set-up, checks) and exit.
        cycle_seconds = max((_duration(summary) for summary in summaries), default=0.0)
        result = {
            "wall_seconds": round(wall, 2),
            "products_synced": synced,
            "products_per_second": round(synced / wall),
            "cycle_products_per_second": round(synced / cycle_seconds) if cycle_seconds else "",
            "worker_cpu_ms": round(worker_cpu * per_product, 2),
            "database_cpu_ms": round(database_cpu * per_product, 2),
            "fake_cpu_ms": round(fake_cpu * per_product, 2),
            "peak_rss_mb": peak_rss_mb,
            "load_average": round(load, 1),
            "summaries": summaries,
        }
        writes = {name: count - writes_before[name] for name, count in table_writes().items()}
        result["rows_written_per_second"] = round(sum(v for k, v in writes.items() if k != "commits") / wall)
        result["commits"] = writes["commits"]
        if count_writes:
            result["offer_rows_written"] = writes["offers_sync_offer"]
        if count_fetches:
            fetches = self.control.get("/_control/stats")["offers_requests"]
            result["fetched_twice"] = sum(1 for count in fetches.values() if count > 1)
            result["products_fetched"] = len(fetches)
        print(f"  {code.name}: {json.dumps({k: v for k, v in result.items() if k != 'summaries'})}", flush=True)
        return result


def _count(summary: str, name: str) -> int:
    for word in summary.replace(";", " ").split():
        if word.startswith(f"{name}="):
            return int(word.split("=")[1])
    return 0


def _duration(summary: str) -> float:
    match = re.search(r"duration=([\d.]+)s", summary)
    return float(match.group(1)) if match else 0.0


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    fields = proc_stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class PeakMemory:
    """The largest peak resident memory (VmHWM) of these processes, read every 0.1 s while they run.

    Not the rusage of wait4: a child started by vfork counts the parent's memory at the fork in its
    ru_maxrss, and this benchmark's own process is larger than a worker.
    """

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.peak_kb = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            for pid in self.pids:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
                if match:
                    self.peak_kb = max(self.peak_kb, int(match.group(1)))

    def stop(self) -> int:
        self._stop.set()
        self.thread.join()
        return self.peak_kb // 1024


class DatabaseCpu:
    """CPU of the PostgreSQL backends serving the workers, sampled while they run.

    A backend ends with its worker's connection, so each one's last reading (at most 0.2 s old)
    is what it counts for. The benchmark's own connection is left out.
    """

    def __init__(self, url: str):
        import psycopg

        self.name = url.rsplit("/", 1)[1].split("?", 1)[0]
        self.conn = psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)
        self.exclude = {own_backend_pid()}
        self.before = self._sample()
        self.latest = dict(self.before)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _sample(self) -> dict[int, float]:
        sql = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
        pids = [row[0] for row in self.conn.execute(sql, [self.name])]
        return {pid: process_cpu_s(pid) for pid in pids if pid not in self.exclude}

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            for pid, seconds in self._sample().items():
                if seconds:
                    self.latest[pid] = seconds

    def stop(self) -> float:
        self._stop.set()
        self.thread.join()
        self.conn.close()
        return sum(seconds - self.before.get(pid, 0.0) for pid, seconds in self.latest.items())


def own_backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


WRITTEN_TABLES = ("offers_sync_offer", "price_history_priceevent", "offers_sync_productsyncstate")


def table_writes() -> dict[str, int]:
    """Rows inserted, updated or deleted so far per sync table, and the database's commits.

    PostgreSQL's own counters; a backend reports them when it ends, so a finished worker's are in.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        time.sleep(1.1)  # counters reach the shared statistics at most once a second
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [list(WRITTEN_TABLES)],
        )
        counts = dict(cursor.fetchall())
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        counts["commits"] = cursor.fetchone()[0]
    return counts


def explain_claim() -> str:
    """EXPLAIN ANALYZE of a worker's claim of one batch (128 products, the default), rolled back."""
    from django.db import connection, transaction

    tick = datetime.now(UTC) + timedelta(days=1)
    sql = """
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
        UPDATE offers_sync_productsyncstate SET sync_claimed_for = %s, sync_claimed_by = 'explain'
        WHERE product_id IN (
            SELECT product_id FROM offers_sync_productsyncstate
            WHERE registered_at IS NOT NULL AND sync_claimed_for < %s
            ORDER BY sync_claimed_for LIMIT 128 FOR UPDATE SKIP LOCKED
        ) AND sync_claimed_for < %s
        RETURNING product_id
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [tick, tick, tick])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def add_registered_products(count: int) -> None:
    """Products and their registered sync states, inserted by the database itself (fast at 1,000,000)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM catalogue_product")
        start = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO catalogue_product (id, name, created_at, updated_at) "
            "SELECT gen_random_uuid(), 'bench product ' || n, now(), now() FROM generate_series(%s, %s) AS n",
            [start, start + count - 1],
        )
        cursor.execute(
            "INSERT INTO offers_sync_productsyncstate (product_id, registered_at, registration_attempts, "
            "sync_claimed_for, sync_claimed_by, last_sync_error) "
            "SELECT p.id, now(), 0, '1970-01-01T00:00:00Z', '', '' FROM catalogue_product p "
            "WHERE NOT EXISTS (SELECT 1 FROM offers_sync_productsyncstate s WHERE s.product_id = p.id)"
        )
        cursor.execute("ANALYZE")


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
    print(f"\nSync benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average now "
          f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (fake service 20±10 ms)\n")  # fmt: skip
    print("| cycle | version | products | wall s | products/s | cycle's own products/s "
          "| CPU ms/product: worker + PostgreSQL + fake | peak RSS MB | load avg | notes |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, version, products, r in rows:
        notes = [r["notes"]] if "notes" in r else []
        if "commits" in r:
            notes.append(f"{r['rows_written_per_second']} rows written/s, {r['commits']} commits")
        if "offer_rows_written" in r:
            notes.append(f"offer rows written: {r['offer_rows_written']}")
        if "fetched_twice" in r:
            notes.append(f"fetched: {r['products_fetched']}, twice: {r['fetched_twice']}")
        print(f"| {label} | {version} | {products} | {r['wall_seconds']} | {r['products_per_second']} | "
              f"{r['cycle_products_per_second']} | "
              f"{r['worker_cpu_ms']} + {r['database_cpu_ms']} + {r['fake_cpu_ms']} | {r['peak_rss_mb']} | "
              f"{r['load_average']} | {'; '.join(notes)} |")  # fmt: skip
    print("\nWorker summaries (main thread: claiming / waiting for fetches / reconciling):")
    for label, version, _, r in rows:
        for summary in r["summaries"]:
            print(f"- {label} ({version}): {summary}")


if __name__ == "__main__":
    main()
