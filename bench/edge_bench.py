"""Reads through the caching proxy (deploy/nginx/aggregator.conf) against reads straight to gunicorn.

    .venv/bin/python bench/edge_bench.py            # about 3 minutes

One run, everything on this machine: a private PostgreSQL cluster (tests/system/live.py) with
10,000 products of 5 offers each (bench/seed.py), gunicorn as deployed (2 workers, throttling
off), and a real nginx with the shipped configuration in front of it (tests/system/edge.py).
Then, side by side:

1. `wrk -t2 -c32` GET /products/{id}/offers, straight to gunicorn and through nginx: one hot
   product, then ids over the 10,000 products by popularity (bench/lua/popularity.lua): spread
   evenly on a log scale over 4 decades, and Zipf's law with S = 1 (a heavier tail: the least
   popular half of the products gets 7 % of the reads instead of 1 %, and most of those miss).
   Each after a 3-second unmeasured warm-up; the proxy's hit ratio is 1 - (requests gunicorn
   counted in /metrics) / (requests wrk made).
2. Staleness: a reader polls one product's offers through nginx every 20 ms while an offer's
   price is changed in the database (as a sync writes it) at random moments; how long after the
   commit the reader first sees it.
3. Outages through the proxy and straight: gunicorn stopped and started again, then PostgreSQL
   stopped and started again, while a client reads 200 products' offers (kept by the proxy before);
   the answers each way, by status.

It prints Markdown tables and writes them to bench/results/edge-<time>.md. Figures from a shared
2-core machine are noisy: compare the rows of one run with each other.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.system import edge  # noqa: E402
from tests.system.live import PYTHON, PrivateCluster, free_port, manage, service_env, start_web  # noqa: E402

LUA = ROOT / "bench" / "lua" / "popularity.lua"
RESULTS = ROOT / "bench" / "results"
METRICS_TOKEN = "edge-bench"
OFFERS_ROUTE = 'route="products/<str:product_id>/offers"'


def log(message: str) -> None:
    print(f"edge-bench: {message}", flush=True)


def wrk(url: str, args: list[str], *, duration: int, ids_file: Path) -> dict:
    command = ["wrk", "-t2", "-c32", f"-d{duration}s", "--latency", "-s", str(LUA), url, "--", *args]
    output = subprocess.run(
        command, env={**os.environ, "BENCH_IDS_FILE": str(ids_file)}, capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in output.splitlines() if x.startswith("BENCH_RESULT "))
    return json.loads(line.removeprefix("BENCH_RESULT "))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by process `root` and its descendants, living or reaped."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # utime + stime, and cutime + cstime: what its children used before they exited and
            # were reaped (PostgreSQL's backends come and go with connections).
            stats[int(entry.name)] = (int(fields[1]), sum(int(field) for field in fields[11:15]))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += stats.get(pid, (0, 0))[1]
        stack += [child for child, (parent, _) in stats.items() if parent == pid]
    return total / CLOCK_TICKS


def upstream_offers_reads(web_url: str) -> int:
    """GETs of the offers route gunicorn has answered, from its /metrics."""
    text = requests.get(f"{web_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("aggregator_http_requests_total{") and OFFERS_ROUTE in line and 'method="GET"' in line
    )


def throughput(web_url: str, proxy_url: str, ids_file: Path, duration: int, pids: dict[str, int]) -> list[dict]:
    rows = []
    loads = [
        ("one hot product", ["hot"]),
        ("10,000 products, log-uniform popularity", ["loguniform", "4"]),
        ("10,000 products, Zipf S=1", ["zipf", "1.0"]),
    ]
    for load, args in loads:
        for way, url in [("straight to gunicorn", web_url), ("through nginx", proxy_url)]:
            wrk(url, args, duration=3, ids_file=ids_file)
            before = upstream_offers_reads(web_url)
            cpu_before = {name: tree_cpu_s(pid) for name, pid in pids.items()}
            result = wrk(url, args, duration=duration, ids_file=ids_file)
            cpu = {name: tree_cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
            upstream = upstream_offers_reads(web_url) - before
            rate = result["requests"] / (result["duration_us"] / 1e6)
            errors = sum(result[key] for key in ("errors_connect", "errors_read", "errors_status", "errors_timeout"))
            row = {
                "load": load,
                "way": way,
                "rps": rate,
                "p50_ms": result["p50_us"] / 1000,
                "p99_ms": result["p99_us"] / 1000,
                "errors": errors,
                "hit_ratio": 1 - upstream / result["requests"] if url == proxy_url else None,
                # Server-side CPU per request, in ms: what capacity depends on, whatever else runs.
                "cpu_ms": {name: 1000 * seconds / result["requests"] for name, seconds in cpu.items()},
            }
            rows.append(row)
            log(f"{load}, {way}: {rate:,.0f} req/s, p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms")
    return rows


def set_price(database_url: str, product_id: str, price: int) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(
            "UPDATE offers_sync_offer SET price = %s WHERE id = "
            "(SELECT id FROM offers_sync_offer WHERE product_id = %s ORDER BY id LIMIT 1)",
            [price, product_id],
        )


def staleness(database_url: str, url: str, product_id: str, *, changes: int, max_wait: float) -> list[float]:
    """Seconds from each price change's commit to a polling reader's first sight of it."""
    session = requests.Session()
    seen = []
    for change in range(changes):
        price = 1_000_000 + change
        time.sleep(random.uniform(0, max_wait))  # a random phase against the cache's lifetime
        set_price(database_url, product_id, price)
        committed = time.monotonic()
        while price not in {offer["price"] for offer in session.get(url, timeout=5).json()}:
            if time.monotonic() - committed > 60:
                raise RuntimeError("the change never showed")
            time.sleep(0.02)
        seen.append(time.monotonic() - committed)
    return seen


class Reader(threading.Thread):
    """Reads the offers of `ids` round and round, counting the answers by status (and cache status)."""

    def __init__(self, base_url: str, ids: list[str]):
        super().__init__(daemon=True)
        self.base_url, self.ids = base_url, ids
        self.counts: Counter = Counter()
        self.stop_event = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        index = 0
        while not self.stop_event.is_set():
            try:
                response = session.get(f"{self.base_url}/products/{self.ids[index % len(self.ids)]}/offers", timeout=5)
                self.counts[(response.status_code, response.headers.get("X-Cache-Status", "-"))] += 1
            except requests.RequestException:
                self.counts[("no answer", "-")] += 1
            index += 1
            time.sleep(0.005)

    def stop(self) -> Counter:
        self.stop_event.set()
        self.join()
        return self.counts


def outage(name: str, web_url: str, proxy_url: str, ids: list[str], go_down, come_back, down_seconds: float) -> dict:
    for product_id in ids:  # kept by the proxy
        requests.get(f"{proxy_url}/products/{product_id}/offers", timeout=5)
    readers = {"through nginx": Reader(proxy_url, ids), "straight to gunicorn": Reader(web_url, ids)}
    for reader in readers.values():
        reader.start()
    time.sleep(1)
    go_down()
    time.sleep(down_seconds)
    come_back()
    time.sleep(2)
    counts = {way: reader.stop() for way, reader in readers.items()}
    for way, count in counts.items():
        log(f"{name}, {way}: {dict(count)}")
    return counts


def markdown(rows, seen, outages, meta) -> str:
    lines = [f"# Edge cache benchmark, {meta['when']}", "", f"Settings: {meta['settings']}", ""]
    lines += [
        "| load | way | req/s | p50 ms | p99 ms | errors | proxy hits | CPU ms/request: nginx + gunicorn + postgres |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        hit = "" if row["hit_ratio"] is None else f"{row['hit_ratio']:.1%}"
        lines.append(
            f"| {row['load']} | {row['way']} | {row['rps']:,.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
            f"| {row['errors']} | {hit} | {row['cpu_ms']['nginx']:.3f} + {row['cpu_ms']['gunicorn']:.3f} "
            f"+ {row['cpu_ms']['postgres']:.3f} |"
        )
    for load in dict.fromkeys(row["load"] for row in rows):
        straight, proxy = (row for row in rows if row["load"] == load)
        server_cpu = [sum(row["cpu_ms"].values()) for row in (straight, proxy)]
        lines.append(
            f"\n{load}: through nginx {proxy['rps'] / straight['rps']:.1f}x the requests/s straight to gunicorn; "
            f"{server_cpu[0] / server_cpu[1]:.1f}x less server CPU per request."
        )
    lines += [
        "",
        f"Staleness after a change (s), {len(seen)} changes: median {statistics.median(seen):.2f}, "
        f"max {max(seen):.2f}; through nginx with max-age {meta['max_age']} s",
        f"(straight to gunicorn: max {max(meta['straight_seen']):.2f}).",
        "",
    ]
    for name, counts in outages.items():
        for way, count in counts.items():
            total = sum(count.values())
            parts = ", ".join(f"{status} {cache}: {n}" for (status, cache), n in sorted(count.items(), key=str))
            lines.append(f"- {name}, {way}: {total} reads; {parts}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured wrk run")
    parser.add_argument("--changes", type=int, default=20, help="price changes for the staleness measurement")
    args = parser.parse_args()
    reason = edge.unavailable_reason() or PrivateCluster.unavailable_reason()
    if reason:
        sys.exit(f"edge-bench: {reason}")
    work = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    cluster = PrivateCluster().create()
    processes = []
    try:
        max_age, swr, sie = 5, 5, 300
        env = service_env(
            cluster.url, "", "",
            THROTTLE_ANON_READ_RATE="off", THROTTLE_WRITE_RATE="off", METRICS_TOKEN=METRICS_TOKEN,
            HTTP_CACHE_MAX_AGE=str(max_age), HTTP_CACHE_STALE_WHILE_REVALIDATE=str(swr),
            HTTP_CACHE_STALE_IF_ERROR=str(sie), DB_CONNECT_TIMEOUT="2",
        )  # fmt: skip
        manage(env, "migrate", "--noinput")
        ids_file = work / "ids.txt"
        subprocess.run(
            [PYTHON, "bench/seed.py", "--ids-file", str(ids_file), "--token-file", str(work / "token")],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        ids = ids_file.read_text().split()
        web_port = free_port()
        web = start_web(env, web_port, work)
        proxy = edge.Nginx(f"127.0.0.1:{web_port}", work / "nginx", workers=2).start()
        web_url = f"http://127.0.0.1:{web_port}"
        processes = [proxy, web]

        postmaster = int((cluster.directory / "data" / "postmaster.pid").read_text().split()[0])
        pids = {"nginx": proxy.popen.pid, "gunicorn": web.pid, "postgres": postmaster}
        rows = throughput(web_url, proxy.url, ids_file, args.duration, pids)

        hot = ids[1]
        seen = staleness(cluster.url, f"{proxy.url}/products/{hot}/offers", hot, changes=args.changes, max_wait=7)
        straight_seen = staleness(cluster.url, f"{web_url}/products/{hot}/offers", hot, changes=5, max_wait=1)
        log(f"staleness through nginx: median {statistics.median(seen):.2f} s, max {max(seen):.2f} s")

        outages = {}
        kept = ids[100:300]

        def restart_web():
            processes[1] = start_web(env, web_port, work)

        outages["web stopped 10 s and started"] = outage(
            "web restart", web_url, proxy.url, kept, lambda: processes[1].stop(), restart_web, 10
        )
        outages["PostgreSQL stopped 10 s and started"] = outage(
            "database outage", web_url, proxy.url, kept, cluster.stop, cluster.start, 10
        )
        meta = {
            "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "settings": f"HTTP_CACHE_MAX_AGE={max_age}, STALE_WHILE_REVALIDATE={swr}, STALE_IF_ERROR={sie}; "
            "gunicorn 2 sync workers; nginx 2 workers; wrk -t2 -c32",
            "max_age": max_age,
            "straight_seen": straight_seen,
        }
        report = markdown(rows, seen, outages, meta)
        print(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"edge-{datetime.now(UTC):%Y%m%d-%H%M%S}.md").write_text(report)
    finally:
        for process in reversed(processes):
            process.stop()
        cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
