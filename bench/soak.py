"""Soak: minutes of mixed API traffic while the worker syncs against a faulty offers service.

    .venv/bin/python bench/soak.py                  # 5 minutes (--seconds 300), about 7 in all
    .venv/bin/python bench/soak.py --seconds 60     # a quick one

Everything runs on loopback, as deployed: a private PostgreSQL cluster (initdb into a temporary
directory, its own port; as root its files belong to the postgres user), gunicorn with two
workers, `manage.py run_sync` on a 5-second schedule, and the fake offers service in its own
process with its offers churning. Traffic: `--rate` requests/s (creates, renames, replacements,
deletes, list/detail/offers reads, a share of them anonymous) from `--clients` threads.

Faults are switched on and off in phases: 5xx errors, 429s, timeouts longer than the client's,
malformed bodies, hostile answers (devtools.fake_hostile: redirects to another origin, resets,
oversized or deeply nested bodies, numbers past 64 bits, foreign offer ids...), all at once, and
access-token expiry (POST /_control/expire-token). After the
traffic, faults off and churn paused, it waits for the worker to register and sync every product
(registration backoff included), then checks and prints:

- no unexpected 5xx (none is expected: the database stays up) and no failed request;
- every product's cached offers equal upstream's (GET /_control/products/{id}/offers);
- database connections bounded (pg_stat_activity for the soak database, sampled every 2 s);
- web (gunicorn master + workers) and worker RSS after warm-up and at the end.

Exit status 0 when every check passes. A JSON copy of the summary goes to bench/results/.
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.system.live import (  # noqa: E402
    PYTHON,
    Api,
    PrivateCluster,
    Process,
    create_api_token,
    free_port,
    manage,
    service_env,
    start_web,
    start_worker,
    wait_for,
)

REFRESH_TOKEN = "soak-refresh-token"
WEB_WORKERS = 2
SYNC_CONCURRENCY = 8
SYNC_SCHEDULE = "*/5 * * * * *"
# Faults, in order, each for an equal share of the run; "expire" also expires the access token.
PHASES = [
    ("calm", {}),
    ("errors 30%", {"error_rate": 0.3}),
    ("429s 30%", {"rate_limit_rate": 0.3}),
    ("calm, token expired", {"expire": True}),
    ("timeouts 10% (6 s)", {"timeout_rate": 0.1, "timeout_seconds": 6}),
    ("malformed 30%", {"malformed_rate": 0.3}),
    ("hostile 20%", {"hostile_rate": 0.2}),
    ("everything 10%, token expired", {"error_rate": 0.1, "rate_limit_rate": 0.1, "timeout_rate": 0.05,
                                       "malformed_rate": 0.1, "hostile_rate": 0.1, "timeout_seconds": 6,
                                       "expire": True}),
    ("calm", {}),
]  # fmt: skip
NO_FAULTS = {"error_rate": 0.0, "rate_limit_rate": 0.0, "timeout_rate": 0.0, "malformed_rate": 0.0, "hostile_rate": 0.0}
OPERATIONS = {  # weight of each kind of request in the traffic
    "create": 12,
    "patch": 8,
    "put": 4,
    "delete": 4,
    "list": 12,
    "detail": 25,
    "offers": 30,
    "anonymous offers": 5,
}


class Traffic:
    """Client threads sending a weighted mix of requests at a bounded overall rate."""

    def __init__(self, api: Api, anonymous: Api, product_ids: list[str], *, rate: float, clients: int, seed: int):
        self.api, self.anonymous = api, anonymous
        self.ids = list(product_ids)
        self.ids_lock = threading.Lock()
        self.rate, self.clients = rate, clients
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.next_slot = time.monotonic()
        self.slot_lock = threading.Lock()
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []

    def run(self, seconds: float, on_tick) -> None:
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        ends_at = time.monotonic() + seconds
        while time.monotonic() < ends_at:
            on_tick(time.monotonic())
            time.sleep(0.5)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=30)

    def _wait_for_slot(self) -> None:
        with self.slot_lock:
            slot = max(self.next_slot, time.monotonic())
            self.next_slot = slot + 1 / self.rate
        time.sleep(max(0.0, slot - time.monotonic()))

    def _client(self, number: int) -> None:
        rng = random.Random(number)
        kinds, weights = zip(*OPERATIONS.items(), strict=True)
        while not self.stop.is_set():
            self._wait_for_slot()
            kind = rng.choices(kinds, weights)[0]
            started = time.monotonic()
            try:
                response = self._send(kind, rng)
            except requests.RequestException as exc:
                self.failures.append(f"{kind}: {type(exc).__name__}")
                continue
            if response is None:
                continue
            self.latencies[kind].append(time.monotonic() - started)
            self.statuses[kind][response.status_code] += 1
            if response.status_code >= 500:
                self.failures.append(f"{kind}: {response.status_code} {response.text[:200]}")

    def _pick(self, rng) -> str | None:
        with self.ids_lock:
            return rng.choice(self.ids) if self.ids else None

    def _send(self, kind: str, rng) -> requests.Response | None:
        if kind == "create":
            response = self.api.post("/products", {"name": f"soak {rng.randrange(10**9)}", "description": "soak"})
            if response.status_code == 201:
                with self.ids_lock:
                    self.ids.append(response.json()["id"])
            return response
        if kind == "list":
            return self.api.get(f"/products?limit={rng.choice([10, 100])}")
        product_id = self._pick(rng)
        if product_id is None:
            return None
        if kind == "patch":
            return self.api.request("PATCH", f"/products/{product_id}", json={"name": f"renamed {rng.random()}"})
        if kind == "put":
            return self.api.request("PUT", f"/products/{product_id}", json={"name": "replaced", "description": "x"})
        if kind == "delete":
            with self.ids_lock:
                if product_id in self.ids:
                    self.ids.remove(product_id)
            return self.api.request("DELETE", f"/products/{product_id}")
        if kind == "detail":
            return self.api.get(f"/products/{product_id}")
        if kind == "offers":
            return self.api.get(f"/products/{product_id}/offers")
        return self.anonymous.get(f"/products/{product_id}/offers")


def describe(summary: dict) -> str:
    """The summary as a few readable lines (the JSON file has it all)."""
    lines = [
        f"traffic: {summary['requests']} requests in {summary['seconds']} s "
        f"({summary['requests_per_second']}/s); phases: {', '.join(summary['phases'])}",
        "answers:",
    ]
    for kind, statuses in summary["statuses"].items():
        p50, p99 = summary["latency_ms_p50_p99"].get(kind, ["-", "-"])
        answers = ", ".join(f"{status}×{count}" for status, count in statuses.items())
        lines.append(f"  {kind:<17} {answers:<28} p50 {p50} ms, p99 {p99} ms")
    connections, rss = summary["db_connections"], summary["rss_mb"]
    lines += [
        f"unexpected 5xx: {summary['unexpected_5xx']}; failed requests: {len(summary['failed_requests'])}",
        f"products at the end: {summary['products_at_end']}, cached offers differing from upstream: "
        f"{summary['products_mismatched']} (all synced {summary['settled_seconds']} s after faults stopped)",
        f"database connections (pg_stat_activity, {connections['samples']} samples): max {connections['max']}, "
        f"mean {connections['mean']} (bound {connections['bound']})",
        f"RSS MB, after warm-up → end: web {rss['web']['start']} → {rss['web']['end']}, "
        f"worker {rss['worker']['start']} → {rss['worker']['end']}",
        f"upstream calls: {summary['upstream_calls']}",
        f"worker: {summary['worker_cycles_finished']} cycles finished, {summary['worker_cycles_skipped_or_failed']} "
        f"skipped or failed, {summary['worker_product_failures_logged']} per-product failure lines, "
        f"{summary['worker_registration_failures_logged']} registration failures",
    ]
    return "\n".join(lines)


class Control:
    def __init__(self, base_url: str):
        self.base_url = base_url

    def call(self, method: str, path: str, body: dict | None = None):
        response = requests.request(method, self.base_url + path, json=body, timeout=10)
        return response.json() if response.status_code == 200 else None


def main() -> None:  # noqa: PLR0915 (one story, told in order)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=300, help="length of the traffic (default 300)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all clients together")
    parser.add_argument("--clients", type=int, default=6, help="client threads")
    parser.add_argument("--products", type=int, default=150, help="products created before the traffic starts")
    parser.add_argument("--settle-seconds", type=int, default=180, help="most to wait for the final sync")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    reason = PrivateCluster.unavailable_reason()
    if reason:
        raise SystemExit(f"soak: cannot run: {reason}")
    work = Path(tempfile.mkdtemp(prefix="aggregator-soak-"))
    cluster = PrivateCluster().create()
    processes: list[Process] = []
    try:
        fake_port, web_port = free_port(), free_port()
        env = service_env(
            cluster.url,
            f"http://127.0.0.1:{fake_port}",
            REFRESH_TOKEN,
            SYNC_SCHEDULE=SYNC_SCHEDULE,
            SYNC_CONCURRENCY=str(SYNC_CONCURRENCY),
            SYNC_HEARTBEAT_FILE=str(work / "heartbeat"),
            THROTTLE_WRITE_RATE="600/minute",  # the soak writes ~7/s; the default read rate stays
            LOG_LEVEL="INFO",
        )
        manage(env, "migrate", "--noinput")
        token = create_api_token(env, "soak")
        fake_command = [
            PYTHON, "manage.py", "run_fake_offers", "--port", str(fake_port), "--refresh-token", REFRESH_TOKEN,
            "--latency-ms", "20", "--jitter-ms", "10", "--churn-interval", "15", "--seed", str(args.seed),
        ]  # fmt: skip
        processes.append(Process("fake", fake_command, {**env, "DEV_TOOLS": "true"}, work))
        control = Control(f"http://127.0.0.1:{fake_port}")
        wait_for(lambda: control.call("GET", "/_control/state"), timeout=30, what="the fake offers service")
        web = start_web(env, web_port, work, workers=WEB_WORKERS)
        processes.append(web)
        worker = start_worker(env, work)
        processes.append(worker)

        base = f"http://127.0.0.1:{web_port}"
        api, anonymous = Api(base, token), Api(base)
        print(f"soak: seeding {args.products} products; logs in {work}", flush=True)
        seeded = [api.post("/products", {"name": f"seed {i}"}).json()["id"] for i in range(args.products)]
        wait_for(lambda: all(p["offers_synced_at"] for p in api.all_products()), timeout=120, what="the first sync")

        connections: list[int] = []
        sampling = threading.Event()

        def sample_connections() -> None:
            while not sampling.wait(2.0):
                connections.append(cluster.connections())

        sampler = threading.Thread(target=sample_connections, daemon=True)
        sampler.start()
        rss_start = {"web": web.rss_kb(), "worker": worker.rss_kb()}

        phase_seconds = args.seconds / len(PHASES)
        started = time.monotonic()
        current = {"phase": -1}
        phase_log = []

        def on_tick(now: float) -> None:
            phase = min(int((now - started) // phase_seconds), len(PHASES) - 1)
            if phase == current["phase"]:
                return
            current["phase"] = phase
            name, faults = PHASES[phase]
            faults = dict(faults)
            expire = faults.pop("expire", False)
            control.call("PUT", "/_control/faults", {**NO_FAULTS, **faults})
            if expire:
                control.call("POST", "/_control/expire-token")
            phase_log.append(name)
            print(f"soak: {now - started:5.0f}s phase {phase + 1}/{len(PHASES)}: {name}", flush=True)

        traffic = Traffic(api, anonymous, seeded, rate=args.rate, clients=args.clients, seed=args.seed)
        traffic.run(args.seconds, on_tick)
        traffic_seconds = time.monotonic() - started
        rss_end = {"web": web.rss_kb(), "worker": worker.rss_kb()}

        # Faults off, upstream still: once every product is registered and synced after this
        # moment, the mirror must equal upstream exactly.
        control.call("PUT", "/_control/faults", NO_FAULTS)
        control.call("POST", "/_control/churn", {"paused": True})
        calm_since = datetime.now(UTC)
        print("soak: faults off, churn paused; waiting for every product to be synced", flush=True)

        def synced_since_calm() -> bool:
            products = api.all_products()
            return all(
                p["registered"] and p["offers_synced_at"] and datetime.fromisoformat(p["offers_synced_at"]) > calm_since
                for p in products
            )

        settle_started = time.monotonic()
        settled = True
        try:
            wait_for(synced_since_calm, timeout=args.settle_seconds, what="every product synced", interval=1.0)
        except TimeoutError:
            settled = False
        settle_seconds = time.monotonic() - settle_started
        sampling.set()
        sampler.join(timeout=10)

        products = api.all_products()
        mismatched = []
        for product in products:
            cached = sorted(
                (o["id"], o["price"], o["items_in_stock"]) for o in api.get(f"/products/{product['id']}/offers").json()
            )
            upstream = control.call("GET", f"/_control/products/{product['id']}/offers") or []
            if cached != sorted((o["id"], o["price"], o["items_in_stock"]) for o in upstream):
                mismatched.append(product["id"])
        stats = control.call("GET", "/_control/stats")
        worker_log = worker.log()
        web_log = web.log()
    finally:
        for process in reversed(processes):
            process.stop()
        cluster.destroy()

    total = sum(sum(c.values()) for c in traffic.statuses.values())
    five_xx = sum(n for c in traffic.statuses.values() for status, n in c.items() if status >= 500)
    connection_bound = WEB_WORKERS + 1 + SYNC_CONCURRENCY + 2
    summary = {
        "seconds": round(traffic_seconds),
        "requests": total,
        "requests_per_second": round(total / traffic_seconds, 1),
        "phases": phase_log,
        "statuses": {kind: dict(sorted(c.items())) for kind, c in sorted(traffic.statuses.items())},
        "latency_ms_p50_p99": {
            kind: [round(statistics.median(v) * 1000), round(sorted(v)[int(len(v) * 0.99) - 1] * 1000)]
            for kind, v in sorted(traffic.latencies.items())
            if v
        },
        "unexpected_5xx": five_xx,
        "failed_requests": traffic.failures[:20],
        "products_at_end": len(products),
        "products_mismatched": len(mismatched),
        "settled_seconds": round(settle_seconds),
        "db_connections": {
            "samples": len(connections),
            "max": max(connections, default=0),
            "mean": round(statistics.mean(connections), 1) if connections else 0,
            "bound": connection_bound,
        },
        "rss_mb": {
            name: {"start": round(rss_start[name] / 1024, 1), "end": round(rss_end[name] / 1024, 1)}
            for name in ("web", "worker")
        },
        "upstream_calls": {
            "auth": (stats or {}).get("auth_requests"),
            "auth_refused_another_valid": (stats or {}).get("auth_refused_another_valid"),
            "register": (stats or {}).get("register_requests"),
            "offers": sum((stats or {}).get("offers_requests", {}).values()),
        },
        "worker_cycles_finished": worker_log.count("finished: products"),
        "worker_cycles_skipped_or_failed": sum(
            1
            for line in worker_log.splitlines()
            if "sync cycle for" in line and (" skipped: " in line or " failed: " in line)
        ),
        "worker_product_failures_logged": worker_log.count("not synced this cycle"),
        "worker_registration_failures_logged": worker_log.count("registration failed"),
        "web_tracebacks": web_log.count("Traceback"),
        "worker_tracebacks": worker_log.count("Traceback"),
    }
    checks = {
        "no unexpected 5xx and no failed request": five_xx == 0 and not traffic.failures,
        "every product synced once faults stopped": settled,
        "cached offers equal upstream for every product": not mismatched,
        f"database connections never above {connection_bound}": summary["db_connections"]["max"] <= connection_bound,
        "web and worker memory flat (end within 25% + 10 MB of start)": all(
            rss_end[name] <= rss_start[name] * 1.25 + 10 * 1024 for name in ("web", "worker")
        ),
        "no traceback in the web or worker log": summary["web_tracebacks"] == summary["worker_tracebacks"] == 0,
    }
    summary["checks"] = checks
    print(describe(summary))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(summary, indent=2))
    for name, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    raise SystemExit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
