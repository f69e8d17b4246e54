"""Benchmark the HTTP API as deployed: gunicorn with gunicorn.conf.py, DEBUG off, PostgreSQL.

    make bench-api                      # or: .venv/bin/python bench/api_bench.py
    WEB_CONCURRENCY=3 make bench-api    # try a gunicorn setting; the report records it

Steps: (re)create the benchmark's own database (BENCH_DATABASE_URL, by default
postgres://postgres@127.0.0.1:5432/aggregator_bench), migrate, fill it with 10,000 products with 5
offers each and a user with a token (bench/seed.py), start gunicorn on 127.0.0.1, then drive each
endpoint with `wrk -t2 -c32 -d10s --latency` from a second process on loopback (bench/lua/api.lua
rotates product ids across requests), after a short unmeasured warm-up. It prints a Markdown table
(requests/s, p50/p99/max latency, CPU per request of gunicorn, PostgreSQL and wrk), writes it with
the raw wrk output and gunicorn's log to bench/results/, stops gunicorn and drops the database.
Everything runs on this machine's cores: the load generator, the server and PostgreSQL share them,
so the figures are for that setup and comparable only with runs made the same way.
docs/performance.md, has the results and how to read them.

OFFERS_SERVICE_URL is deliberately empty, so POST /products measures this service's own work and
never waits on the offers service. Throttling is off (THROTTLE_*_RATE=off): the load comes from one
address, far above the default anonymous rate.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA = BENCH / "lua" / "api.lua"
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/aggregator_bench"
# The gunicorn settings a caller may override through the environment; the report lists those set.
GUNICORN_ENV = (
    "WEB_CONCURRENCY",
    "WEB_THREADS",
    "GUNICORN_ACCESS_LOG",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_CMD_ARGS",
    "GUNICORN_WORKER_CLASS",
    "LOG_LEVEL",
)
sys.path.insert(0, str(ROOT))

from _common import CLOCK_TICKS, proc_stat  # noqa: E402

from tests.system.live import collected_static_root  # noqa: E402


@dataclass
class Endpoint:
    key: str
    method: str
    path: str  # {id} is replaced by a product id, a different one per request
    target: str = ""
    # Sent with If-None-Match: the product's current ETag, so every answer is a 304.
    conditional: bool = False


ENDPOINTS = [
    Endpoint("offers", "GET", "/products/{id}/offers", "≥ 1,200 req/s, p99 ≤ 50 ms"),
    Endpoint("offers-304", "GET", "/products/{id}/offers", "beside offers: 304s per second", conditional=True),
    Endpoint("list", "GET", "/products", "≥ 400 req/s"),
    Endpoint("detail", "GET", "/products/{id}"),
    # Last: it adds products, and the reads above should see exactly the seeded catalogue.
    Endpoint("create", "POST", "/products"),
]


@dataclass
class Result:
    endpoint: str
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: dict
    server_cpu_ms_per_request: float
    database_cpu_ms_per_request: float
    wrk_cpu_ms_per_request: float
    machine_cpu_busy_pct: float
    load_average_before: list = field(default_factory=list)


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def run(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, check=True, **kwargs)


def web_env(database_url: str, *, throttled: bool = False, **extra: str) -> dict[str, str]:
    """This process's environment plus the web's settings in an API benchmark: production settings on
    `database_url`, no offers service, throttling off unless `throttled`; `extra` last."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CURRENCY": "EUR",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Empty on purpose: POST /products then measures our own cost, never the offers service's.
        "OFFERS_SERVICE_URL": "",
        "OFFERS_REFRESH_TOKEN": "",
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
    }
    if not throttled:
        # One client address sending thousands of requests a second: the default anonymous-read rate
        # (600/minute) would answer most with 429. Throttling's own cost: bench/throttle_cost.py.
        env.update(THROTTLE_ANON_READ_RATE="off", THROTTLE_WRITE_RATE="off")
    return {**env, **extra}


def recreate_database(url: str) -> None:
    """Drop and create the benchmark's database, so every run starts from the same state."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    if not name.startswith("aggregator_bench"):
        sys.exit(f"bench: refusing to drop {name!r}; the benchmark's database name must start with aggregator_bench")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def bench_token(url: str) -> str:
    """The benchmark user's token, from a database an earlier run seeded and kept."""
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT t.key FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE u.username = 'bench'"
        ).fetchone()
    if row is None or not (RESULTS / "api-ids.txt").exists():
        sys.exit("bench: nothing to reuse; run once with --keep-db first")
    return row[0]


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def wait_until_healthy(base_url: str, server: subprocess.Popen, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"bench: gunicorn exited with {server.returncode} before it was ready (see its log)")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    sys.exit("bench: gunicorn did not answer /health in time")


# How many products' ETags the 304 run rotates through (fetched once before it).
CONDITIONAL_IDS = 2000


def write_etags(base_url: str, endpoint: Endpoint, ids_file: Path, etags_file: Path) -> None:
    """`id etag` lines for the conditional run: each product's current ETag for the endpoint."""
    lines = []
    for product_id in ids_file.read_text().split()[:CONDITIONAL_IDS]:
        url = f"{base_url}{endpoint.path.replace('{id}', product_id)}"
        with urllib.request.urlopen(url, timeout=5) as response:
            lines.append(f"{product_id} {response.headers['ETag']}")
    etags_file.write_text("\n".join(lines) + "\n")


def check_conditional(base_url: str, endpoint: Endpoint, etags_file: Path) -> None:
    product_id, etag = etags_file.read_text().split("\n", 1)[0].split(" ", 1)
    path = endpoint.path.replace("{id}", product_id)
    request = urllib.request.Request(f"{base_url}{path}", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return
    sys.exit(f"bench: {path} with its ETag did not answer 304; not benchmarking it")


def check_endpoint(base_url: str, endpoint: Endpoint, product_id: str, token: str) -> None:
    """One request by hand, so a misconfiguration fails loudly instead of benchmarking 404s."""
    path = endpoint.path.replace("{id}", product_id)
    data, headers = None, {}
    if endpoint.method == "POST":
        data = json.dumps({"name": "Benchmark check"}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    request = urllib.request.Request(f"{base_url}{path}", data=data, headers=headers, method=endpoint.method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            json.loads(response.read())
    except urllib.error.HTTPError as error:
        sys.exit(f"bench: {endpoint.method} {path} answered {error.code}; not benchmarking it")


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds used by the gunicorn master, its live workers and the workers it has reaped."""
    master = proc_stat(pid)
    if master is None:
        return 0.0
    # Fields after the command: utime, stime, cutime, cstime are the 12th to 15th.
    ticks = sum(int(x) for x in master[11:15])
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        fields = proc_stat(int(child))
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def database_cpu_s(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the benchmark's database, by pid."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True, connect_timeout=5) as conn:
        pids = [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])]
    seconds = {}
    for pid in pids:
        fields = proc_stat(pid)
        if fields is not None:
            seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def wrk(base_url: str, endpoint: Endpoint, *, threads: int, connections: int, duration: int, env: dict) -> tuple:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(LUA),
        base_url,
        "--",
        endpoint.method,
        endpoint.path,
        *(["conditional"] if endpoint.conditional else []),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    # wait4, not wait: it also says how much CPU wrk itself used.
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"bench: wrk failed ({process.returncode}):\n{output}")
    line = next(x for x in output.splitlines() if x.startswith("BENCH_RESULT "))
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    raw["cpu_s"] = usage.ru_utime + usage.ru_stime
    return raw, " ".join(command[: command.index("--")]) + "\n" + output


def measure(base_url: str, endpoint: Endpoint, server_pid: int, args, env: dict) -> tuple[Result, str]:
    """One endpoint: warm up, then the measured wrk run, with the CPU each party used meanwhile."""
    if args.warmup:
        wrk(base_url, endpoint, threads=args.threads, connections=args.connections, duration=args.warmup, env=env)
    load = [round(x, 2) for x in os.getloadavg()]
    database_url = env["DATABASE_URL"]
    cpu_before, (busy_before, total_before) = process_tree_cpu_s(server_pid), machine_cpu()
    db_before = database_cpu_s(database_url)
    # Backends come and go when gunicorn recycles a worker (max_requests): sample them during the
    # run, so one that ends still counts with its last reading.
    db_latest = dict(db_before)
    stop = threading.Event()

    def sample_database() -> None:
        while not stop.wait(0.5):
            db_latest.update(database_cpu_s(database_url))

    sampler = threading.Thread(target=sample_database, daemon=True)
    sampler.start()
    try:
        raw, text = wrk(
            base_url, endpoint, threads=args.threads, connections=args.connections, duration=args.duration, env=env
        )
    finally:
        stop.set()
        sampler.join()
    cpu_after, (busy_after, total_after) = process_tree_cpu_s(server_pid), machine_cpu()
    db_latest.update(database_cpu_s(database_url))
    db_seconds = sum(latest - db_before.get(pid, 0.0) for pid, latest in db_latest.items())
    per_request = 1000 / max(raw["requests"], 1)
    seconds = raw["duration_us"] / 1e6
    errors = {k.removeprefix("errors_"): v for k, v in raw.items() if k.startswith("errors_") and v}
    result = Result(
        endpoint=endpoint_name(endpoint),
        requests_per_s=round(raw["requests"] / seconds, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        requests=raw["requests"],
        errors=errors,
        server_cpu_ms_per_request=round((cpu_after - cpu_before) * per_request, 3),
        database_cpu_ms_per_request=round(db_seconds * per_request, 3),
        wrk_cpu_ms_per_request=round(raw["cpu_s"] * per_request, 3),
        machine_cpu_busy_pct=round(100 * (busy_after - busy_before) / max(total_after - total_before, 1), 1),
        load_average_before=load,
    )
    return result, text


def endpoint_name(endpoint: Endpoint) -> str:
    name = f"{endpoint.method} {endpoint.path}"
    return f"{name} (If-None-Match: 304)" if endpoint.conditional else name


def markdown(results: list[Result], meta: dict) -> str:
    targets = {endpoint_name(e): e.target for e in ENDPOINTS}
    lines = [
        f"API benchmark, {meta['started']} (commit {meta['commit']}, {meta['label'] or 'no label'})",
        "",
        f"`wrk -t{meta['threads']} -c{meta['connections']} -d{meta['duration']}s --latency` on loopback, after a "
        f"{meta['warmup']}s warm-up; {meta['products']:,} products × {meta['offers_per_product']} offers in "
        f"PostgreSQL; gunicorn: {meta['gunicorn']}; throttling off; OFFERS_SERVICE_URL empty.",
        f"**Load generator (wrk), gunicorn and PostgreSQL share the machine's {meta['cpus']} cores.** "
        f"Load average before the run: {meta['load_average_before']}.",
        "",
        "| Endpoint | req/s | p50 | p99 | max | errors | CPU/req: gunicorn + PostgreSQL + wrk | machine busy "
        "| target |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in results:
        errors = ", ".join(f"{k} {v}" for k, v in r.errors.items()) or "0"
        lines.append(
            f"| `{r.endpoint}` | {r.requests_per_s:,.0f} | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.max_ms:.0f} ms "
            f"| {errors} | {r.server_cpu_ms_per_request:.2f} + {r.database_cpu_ms_per_request:.2f} + "
            f"{r.wrk_cpu_ms_per_request:.2f} ms | {r.machine_cpu_busy_pct:.0f}% "
            f"| {targets.get(r.endpoint, '')} |"
        )
    lines += [
        "",
        "CPU/req: CPU time used during the measured run, divided by the requests served, by the gunicorn "
        "master and workers, by the PostgreSQL backends of the benchmark's database, and by wrk (kernel time "
        "on their behalf included, as far as Linux charges it to them). Machine busy: all cores, during the "
        "measured run; what the three do not account for is other work on the machine.",
    ]
    return "\n".join(lines) + "\n"


def gunicorn_summary(log_path: Path, env: dict) -> str:
    text = log_path.read_text(errors="replace")
    recycled = text.count("Autorestarting worker")  # max_requests reached; a new worker replaced it
    workers = text.count("Booting worker with pid") - recycled
    worker_class = next(
        (x.split("Using worker: ", 1)[1].strip() for x in text.splitlines() if "Using worker: " in x), "?"
    )
    overrides = [f"{k}={env[k]}" for k in GUNICORN_ENV if k in env]
    summary = f"{workers} {worker_class} workers" + (
        f" ({', '.join(overrides)})" if overrides else " (gunicorn.conf.py defaults)"
    )
    return summary + (f", {recycled} worker restarts after max_requests" if recycled else "")


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout
        return commit.strip() + ("+changes" if dirty.strip() else "")
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds per endpoint first (default 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8100")))
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--offers-per-product", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=[e.key for e in ENDPOINTS], help="endpoints to run")
    parser.add_argument("--label", default="", help="a note stored with the results, e.g. 'baseline'")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection or --reuse-db")
    parser.add_argument(
        "--reuse-db", action="store_true", help="skip setup, use a --keep-db run's database (for quick experiments)"
    )
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    # gunicorn will not start without collected static files (aggregator/startup.py).
    env = web_env(database_url, PORT=str(args.port), STATIC_ROOT=collected_static_root())
    ids_file, token_file = RESULTS / "api-ids.txt", RESULTS / f"api-{stamp}-token.txt"
    endpoints = [e for e in ENDPOINTS if not args.only or e.key in args.only]

    if args.reuse_db:
        log("reusing the database and ids of an earlier --keep-db run")
        token = bench_token(database_url)
    else:
        log(f"recreating {database_url.rsplit('/', 1)[1]} and migrating")
        recreate_database(database_url)
        run([PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"], env)
        log(f"seeding {args.products:,} products × {args.offers_per_product} offers")
        seed = [PYTHON, "bench/seed.py", "--products", str(args.products)]
        seed += ["--offers-per-product", str(args.offers_per_product)]
        run([*seed, "--ids-file", str(ids_file), "--token-file", str(token_file)], env)
        token = token_file.read_text().strip()
        token_file.unlink()
    first_id = ids_file.read_text().split("\n", 1)[0]
    load_env = dict(env, BENCH_IDS_FILE=str(ids_file), BENCH_TOKEN=token)

    base_url = f"http://127.0.0.1:{args.port}"
    server_log = RESULTS / f"api-{stamp}-gunicorn.log"
    # As deployed, except that it listens on loopback only.
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{args.port}",
        "aggregator.wsgi",
    ]
    results, raw_outputs = [], []
    with server_log.open("w") as server_output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=server_output, stderr=subprocess.STDOUT)
        try:
            wait_until_healthy(base_url, server)
            etags_file = RESULTS / "api-etags.txt"
            load_env["BENCH_ETAGS_FILE"] = str(etags_file)
            for endpoint in endpoints:
                if endpoint.conditional:
                    write_etags(base_url, endpoint, ids_file, etags_file)
                    check_conditional(base_url, endpoint, etags_file)
                else:
                    check_endpoint(base_url, endpoint, first_id, token)
            load_before = [round(x, 2) for x in os.getloadavg()]
            for endpoint in endpoints:
                log(f"{endpoint.method} {endpoint.path}: {args.warmup}s warm-up, {args.duration}s measured")
                result, text = measure(base_url, endpoint, server.pid, args, load_env)
                results.append(result)
                raw_outputs.append(text)
                log(f"  {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if not (args.keep_db or args.reuse_db):
                drop_database(database_url)

    meta = {
        "started": stamp,
        "label": args.label,
        "commit": git_commit(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "threads": args.threads,
        "connections": args.connections,
        "duration": args.duration,
        "warmup": args.warmup,
        "products": args.products,
        "offers_per_product": args.offers_per_product,
        "gunicorn": gunicorn_summary(server_log, env),
        "offers_service_url": "(empty: POST /products does not call the offers service)",
    }
    table = markdown(results, meta)
    (RESULTS / f"api-{stamp}.md").write_text(table)
    (RESULTS / f"api-{stamp}.json").write_text(
        json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2)
    )
    (RESULTS / f"api-{stamp}-wrk.txt").write_text("\n".join(raw_outputs))
    print()
    print(table)
    log(f"results in {RESULTS.relative_to(ROOT)}/api-{stamp}.*")
    failed = [r.endpoint for r in results if r.errors]
    if failed:
        log(f"errors during: {', '.join(failed)} (see the wrk output)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
