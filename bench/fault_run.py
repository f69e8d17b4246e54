"""Fault run: two sync workers through a SIGKILL, a PostgreSQL restart, an offers-service outage
and hostile answers throughout; then every product must converge within two cycles.

    .venv/bin/python bench/fault_run.py                 # about 3 minutes, 200 products
    .venv/bin/python bench/fault_run.py --products 100  # quicker

Everything runs on loopback: a private PostgreSQL cluster (initdb into a temporary directory, its
own port, so the machine's shared server is never touched), gunicorn with two workers, two
`manage.py run_sync` workers on a 10-second schedule, and the fake offers service in its own
process (150 ± 20 ms latency so a cycle lasts a few seconds, offers churning every 8 s, 5 % of
register/offers calls hostile, and a few products hostile on every call). A prober reads the API
(`/products`, a product's offers, `/health`) all along. In order:

1. first sync of every product; then three products are made hostile for good (deep nesting, a
   price past 64 bits, a redirect to another origin);
2. mid-cycle (upstream has answered part of the cycle's offers calls), SIGKILL of worker A; two
   cycles later it is started again, as an orchestrator would;
3. mid-cycle, PostgreSQL stops (`pg_ctl stop -m fast`) and starts again 5 s later;
4. the offers service stops listening for 15 s (connections refused), its state kept;
5. calm: random hostile answers off and churn paused (the three hostile products stay hostile).

Checks: every other product's cached offers equal what the fake serves after at most two cycles
that started after the calm (both workers' heartbeats say they finished the tick); the three
hostile products keep the cache they had and carry a `last_sync_error`; both workers are still
running; the API answered no 5xx but 503s while PostgreSQL was down (plus 5 s); the redirect trap
received no credential. A JSON copy of the figures goes to bench/results/.
"""

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.system.live import (  # noqa: E402
    PYTHON,
    Api,
    DrippingReceivers,
    PrivateCluster,
    Process,
    create_api_token,
    free_port,
    manage,
    service_env,
    start_web,
    wait_for,
)

REFRESH_TOKEN = "fault-run-refresh-token"
SCHEDULE_SECONDS = 10
SYNC_SCHEDULE = f"*/{SCHEDULE_SECONDS} * * * * *"
PERMANENTLY_HOSTILE = ("deep-nesting", "price-past-64-bits", "redirect", "drip-headers", "drip-body")
OFFERS_TIMEOUT = 2  # seconds: a dripping product costs one fetch thread 2 × this per cycle
WEBHOOK_TIMEOUT = 2
WEBHOOK_CONCURRENCY = 4
SLOW_RECEIVERS = 10  # more than WEBHOOK_CONCURRENCY
HEALTHY_PING_SECONDS = 5
RESTART_GRACE = timedelta(seconds=5)


class Control:
    """The fake offers service's control API."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def call(self, method: str, path: str, body: dict | None = None):
        response = requests.request(method, self.base_url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def offers_calls(self) -> int:
        return self.call("GET", "/_control/state")["counters"]["offers_requests"]


class HealthyReceiver:
    """A webhook receiver that answers 204 at once and notes when each delivery arrived."""

    def __init__(self):
        arrivals = self.arrivals = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrivals.append(time.monotonic())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


class Pinger:
    """Pings the healthy endpoint every few seconds, noting when; the latency is ping to arrival."""

    def __init__(self, api: Api, endpoint_id: str, receiver: HealthyReceiver):
        self.api, self.endpoint_id, self.receiver = api, endpoint_id, receiver
        self.sent: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(HEALTHY_PING_SECONDS):
            try:
                if self.api.post(f"/webhooks/{self.endpoint_id}/ping", {}).status_code == 202:
                    self.sent.append(time.monotonic())
            except requests.RequestException:
                pass  # the database restart: this ping is simply not sent

    def latencies(self) -> list[float]:
        arrived = sorted(self.receiver.arrivals)
        return [min((a - sent for a in arrived if a >= sent), default=float("inf")) for sent in self.sent]


class Prober:
    """Reads the API in a loop and keeps every answer's status with its time."""

    def __init__(self, api: Api, product_ids: list[str]):
        self.api, self.ids = api, product_ids
        self.stop = threading.Event()
        self.answers: list[tuple[datetime, str, int]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = random.Random(1)
        paths = {"list": lambda: "/products?limit=50", "offers": lambda: f"/products/{rng.choice(self.ids)}/offers",
                 "health": lambda: "/health"}  # fmt: skip
        while not self.stop.wait(0.05):
            for kind, path in paths.items():
                try:
                    status = self.api.get(path()).status_code
                except requests.RequestException:
                    status = 0  # no answer at all
                self.answers.append((datetime.now(UTC), kind, status))


def heartbeat_cycle(path: Path) -> datetime | None:
    try:
        value = json.loads(path.read_text())["last_cycle_finished_at"]
    except (OSError, ValueError, KeyError):
        return None
    return datetime.fromisoformat(value) if value else None


def next_tick(after: datetime) -> datetime:
    seconds = (int(after.timestamp()) // SCHEDULE_SECONDS + 1) * SCHEDULE_SECONDS
    return datetime.fromtimestamp(seconds, UTC)


def wait_mid_cycle(control: Control, products: int) -> None:
    """Wait for the next cycle to start (upstream idle, then called) and get a third of the way."""

    def idle() -> bool:
        before = control.offers_calls()
        time.sleep(1.0)  # the idle window looked at, not a synchronisation
        return control.offers_calls() == before

    wait_for(idle, timeout=60, what="the gap between two cycles", interval=0.1)
    idle_count = control.offers_calls()
    wait_for(lambda: control.offers_calls() > idle_count, timeout=60, what="a cycle to start", interval=0.05)
    started = control.offers_calls()
    wait_for(lambda: control.offers_calls() >= started + products // 3, timeout=60, what="mid-cycle", interval=0.05)


def offers_key(offers: list[dict]) -> list[tuple]:
    return sorted((o["id"], o["price"], o["items_in_stock"]) for o in offers)


def sync_errors(env: dict[str, str], product_ids: list[str]) -> dict[str, str]:
    """Each product's last_sync_error (not part of the public API), read the way an operator would."""
    code = (
        "import json; from offers_sync.models import ProductSyncState; "
        f"print(json.dumps({{str(k): v for k, v in ProductSyncState.objects.filter(pk__in={product_ids!r})"
        ".values_list('pk', 'last_sync_error')}))"
    )
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def main() -> None:  # noqa: PLR0915 (one story, told in order)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--hostile-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    reason = PrivateCluster.unavailable_reason()
    if reason:
        raise SystemExit(f"fault run: cannot run: {reason}")

    work = Path(tempfile.mkdtemp(prefix="aggregator-fault-run-"))
    cluster = PrivateCluster().create()
    processes: list[Process] = []
    logs_stopped: dict[str, str] = {}
    events: list[str] = []
    began = time.monotonic()

    def note(text: str) -> None:
        line = f"{time.monotonic() - began:6.1f}s {text}"
        events.append(line)
        print(f"fault run: {line}", flush=True)

    try:
        fake_port, web_port = free_port(), free_port()
        env = service_env(
            cluster.url, f"http://127.0.0.1:{fake_port}", REFRESH_TOKEN,
            SYNC_SCHEDULE=SYNC_SCHEDULE, SYNC_CONCURRENCY="4", OFFERS_TIMEOUT=str(OFFERS_TIMEOUT),
            THROTTLE_WRITE_RATE="off", THROTTLE_ANON_READ_RATE="off",
            WEBHOOK_ALLOW_PRIVATE_NETWORKS="true", WEBHOOK_TIMEOUT=str(WEBHOOK_TIMEOUT),
            WEBHOOK_CONCURRENCY=str(WEBHOOK_CONCURRENCY), WEBHOOK_RETRY_DELAYS=",".join(["2"] * 7),
        )  # fmt: skip
        manage(env, "migrate", "--noinput")
        token = create_api_token(env, "fault-run")
        fake_command = [
            PYTHON, "manage.py", "run_fake_offers", "--port", str(fake_port), "--refresh-token", REFRESH_TOKEN,
            "--latency-ms", "150", "--jitter-ms", "20", "--churn-interval", "8", "--seed", str(args.seed),
        ]  # fmt: skip
        processes.append(Process("fake", fake_command, {**env, "DEV_TOOLS": "true"}, work))
        control = Control(f"http://127.0.0.1:{fake_port}")
        wait_for(lambda: control.call("GET", "/_control/state"), timeout=30, what="the fake offers service")
        web = start_web(env, web_port, work, workers=2)
        processes.append(web)
        api = Api(f"http://127.0.0.1:{web_port}", token)

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: api.post("/products", {"name": f"fault {i}"}).json()["id"],
                                range(args.products)))  # fmt: skip
        beats = {name: work / f"heartbeat-{name}" for name in ("a", "b")}

        def start_worker(name: str, heartbeat: str) -> Process:
            return Process(f"worker-{name}", [PYTHON, "manage.py", "run_sync"],
                           {**env, "SYNC_HEARTBEAT_FILE": str(beats[heartbeat])}, work)  # fmt: skip

        workers = {"a": start_worker("a", "a"), "b": start_worker("b", "b")}
        processes += workers.values()
        wait_for(lambda: all(p["offers_synced_at"] for p in api.all_products()), timeout=120, what="the first sync")
        note(f"{args.products} products created and synced by two workers")

        hostile = dict(zip(ids[1 : 1 + len(PERMANENTLY_HOSTILE)], PERMANENTLY_HOSTILE, strict=True))
        hostile_cache = {}
        for product_id, kind in hostile.items():
            hostile_cache[product_id] = offers_key(api.get(f"/products/{product_id}/offers").json())
            control.call("PUT", f"/_control/products/{product_id}/hostile", {"kind": kind})
        control.call("PUT", "/_control/faults", {"hostile_rate": args.hostile_rate})
        note(f"hostile: {len(hostile)} products always, {args.hostile_rate:.0%} of calls at random")
        prober = Prober(Api(f"http://127.0.0.1:{web_port}", token, timeout=15), ids)
        prober.thread.start()

        slow_receivers, healthy_receiver = DrippingReceivers().__enter__(), HealthyReceiver()
        slow_endpoints = [
            api.post("/webhooks", {"url": slow_receivers.url(n)}).json()["id"] for n in range(SLOW_RECEIVERS)
        ]
        healthy_endpoint = api.post("/webhooks", {"url": healthy_receiver.url}).json()["id"]
        webhooks = Process("webhooks", [PYTHON, "manage.py", "run_webhooks"], env, work)
        processes.append(webhooks)
        for endpoint_id in slow_endpoints:
            api.post(f"/webhooks/{endpoint_id}/ping", {})
        pinger = Pinger(Api(f"http://127.0.0.1:{web_port}", token, timeout=15), healthy_endpoint, healthy_receiver)
        pinger.thread.start()
        note(
            f"webhooks: {SLOW_RECEIVERS} receivers dripping (WEBHOOK_CONCURRENCY={WEBHOOK_CONCURRENCY}, "
            f"WEBHOOK_TIMEOUT={WEBHOOK_TIMEOUT}), a healthy one pinged every {HEALTHY_PING_SECONDS} s"
        )

        wait_mid_cycle(control, args.products)
        workers["a"].popen.kill()
        workers["a"].popen.wait(timeout=10)
        note("SIGKILL of worker A mid-cycle")
        wait_mid_cycle(control, args.products)
        wait_mid_cycle(control, args.products)
        processes.remove(workers["a"])
        workers["a"].stop()
        workers["a"] = start_worker("a-restarted", "a")
        processes.append(workers["a"])
        note("worker A started again, two cycles later")

        wait_mid_cycle(control, args.products)
        restart_began = datetime.now(UTC)
        cluster.stop()
        note("PostgreSQL stopped mid-cycle")
        time.sleep(5)  # the outage's length, not a synchronisation
        cluster.start()
        restart_ended = datetime.now(UTC)
        note("PostgreSQL started again after 5 s")

        wait_for(lambda: api.get("/health").status_code == 200, timeout=60, what="/health after the restart")
        wait_mid_cycle(control, args.products)
        control.call("POST", "/_control/outage", {"seconds": 15})
        note("offers service down (connections refused) for 15 s")
        time.sleep(15)  # the outage's length
        wait_for(lambda: control.call("GET", "/_control/state"), timeout=30, what="the offers service back")
        note("offers service back")

        control.call("PUT", "/_control/faults", {"hostile_rate": 0.0})
        control.call("POST", "/_control/churn", {"paused": True})
        calm = datetime.now(UTC)
        note(f"calm: random hostile answers off, churn paused ({len(hostile)} products still hostile)")
        upstream = {}
        for product_id in ids:
            upstream[product_id] = offers_key(control.call("GET", f"/_control/products/{product_id}/offers"))

        def mismatched() -> list[str]:
            out = []
            for product_id in ids:
                cached = offers_key(api.get(f"/products/{product_id}/offers").json())
                expected = hostile_cache[product_id] if product_id in hostile else upstream[product_id]
                if cached != expected:
                    out.append(product_id)
            return out

        convergence = []
        tick = next_tick(calm)
        for cycle in (1, 2):
            wait_for(
                lambda tick=tick: all((heartbeat_cycle(beats[n]) or calm) > tick for n in ("a", "b")),
                timeout=120, what=f"cycle {cycle} after the calm on both workers", interval=0.5,
            )  # fmt: skip
            convergence.append(len(mismatched()))
            note(f"after cycle {cycle} of the calm (tick {tick:%H:%M:%S}): {convergence[-1]} products differ")
            tick += timedelta(seconds=SCHEDULE_SECONDS)
        prober.stop.set()
        prober.thread.join(timeout=30)
        pinger.stop.set()
        pinger.thread.join(timeout=30)
        alive = {name: worker.alive() for name, worker in workers.items()}
        stop_seconds = {}
        for name, process in [("webhooks", webhooks), ("worker-a", workers["a"]), ("worker-b", workers["b"])]:
            processes.remove(process)
            stopping = time.monotonic()
            stop_seconds[name] = (process.stop(timeout=60), round(time.monotonic() - stopping, 1))
            logs_stopped[name] = process.log()
        note("SIGTERM: " + ", ".join(f"{n} exit {code} in {sec} s" for n, (code, sec) in stop_seconds.items()))
        slow_receivers.__exit__(None, None, None)
        latencies = pinger.latencies()
        errors = sync_errors(env, list(hostile))
        trap = control.call("GET", "/_control/trap")
        stats = control.call("GET", "/_control/stats")
        logs = {**{p.name: p.log() for p in processes}, **logs_stopped}
    finally:
        for process in reversed(processes):
            process.stop()
        cluster.destroy()

    window = (restart_began, restart_ended + RESTART_GRACE)
    worker_log = "".join(log for name, log in logs.items() if name.startswith("worker"))
    statuses = Counter(status for _, _, status in prober.answers)
    bad = [(at, kind, s) for at, kind, s in prober.answers if s >= 500 or s == 0]
    unexpected = [(at, kind, s) for at, kind, s in bad if not (s == 503 and window[0] <= at <= window[1])]
    summary = {
        "products": args.products,
        "events": events,
        "api_answers": dict(sorted(statuses.items())),
        "api_503_during_restart": sum(1 for _, _, s in bad if s == 503) - sum(1 for *_, s in unexpected if s == 503),
        "api_unexpected": [f"{at:%H:%M:%S.%f} {kind} {s}" for at, kind, s in unexpected[:20]],
        "differing_after_calm_cycles": convergence,
        "hostile_products_errors": list(errors.values()),
        "workers_alive": alive,
        "trap": trap,
        "upstream_calls": {
            "auth": stats["auth_requests"],
            "register": stats["register_requests"],
            "offers": sum(stats["offers_requests"].values()),
        },  # fmt: skip
        "worker_cycles_finished": worker_log.count("finished: products"),
        "worker_cycles_failed_database": worker_log.count("failed: database unavailable"),
        "worker_tracebacks": worker_log.count("Traceback"),
        "web_tracebacks": logs.get("web", "").count("Traceback"),
        "longest_cycle_seconds": max((float(d) for d in re.findall(r"duration=([0-9.]+)s", worker_log)), default=0),
        "healthy_webhook_latency_seconds": {
            "pings": len(latencies),
            "median": round(statistics.median(latencies), 2) if latencies else None,
            "max": round(max(latencies), 2) if latencies else None,
        },
        "slow_receivers": {
            "attempts": slow_receivers.requests,
            "longest_held_seconds": round(max(slow_receivers.held, default=0), 2),
            "overlapping_attempts": len(slow_receivers.overlaps),
        },
        "sigterm_exit_and_seconds": stop_seconds,
    }
    checks = {
        "every product converged within two cycles of the calm": convergence[-1] == 0,
        "hostile products kept their cache and have a last_sync_error": all(errors.values()),
        "both workers still running": all(alive.values()),
        "no 5xx from the API besides 503 while PostgreSQL restarted": not unexpected,
        "the redirect trap received no credential": not trap["credential_headers"],
        "every healthy webhook ping delivered within ceil(slow/concurrency) x WEBHOOK_TIMEOUT + 5 s": bool(latencies)
        and max(latencies) <= -(-SLOW_RECEIVERS // WEBHOOK_CONCURRENCY) * WEBHOOK_TIMEOUT + 5,
        "no slow receiver had two attempts open at once": not slow_receivers.overlaps,
        "no slow receiver held an attempt past WEBHOOK_TIMEOUT + 1 s": max(slow_receivers.held, default=0)
        <= WEBHOOK_TIMEOUT + 1,
        "SIGTERM stopped run_webhooks within WEBHOOK_TIMEOUT + 5 s, exit 0": stop_seconds["webhooks"][0] == 0
        and stop_seconds["webhooks"][1] <= WEBHOOK_TIMEOUT + 5,
        "SIGTERM stopped each sync worker within 2 x OFFERS_TIMEOUT + 5 s, exit 0": all(
            stop_seconds[n][0] == 0 and stop_seconds[n][1] <= 2 * OFFERS_TIMEOUT + 5 for n in ("worker-a", "worker-b")
        ),
    }
    summary["checks"] = checks
    print(json.dumps({k: v for k, v in summary.items() if k != "events"}, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"fault-run-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(summary, indent=2))
    print(f"logs in {work}")
    for name, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    raise SystemExit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
