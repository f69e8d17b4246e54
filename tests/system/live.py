"""The service as deployed, for the outage test and the soak: a private PostgreSQL cluster,
gunicorn, the sync worker, and a small HTTP client, all on loopback.

The cluster is this run's own (initdb into a temporary directory, its own port), so it can be
stopped and started without touching the PostgreSQL server that other tests share. Everything
here waits by polling with a deadline, never by sleeping a fixed time.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2):
    """Call `check` until it returns something truthy (which is returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (requests.RequestException, OSError) as exc:
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}" + (f" ({last_error})" if last_error else ""))


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


class PrivateCluster:
    """A throw-away PostgreSQL cluster on 127.0.0.1:`port`, trust authentication, user postgres.

    initdb refuses to run as root, so as root (CI) the cluster belongs to the `postgres` system
    user and its commands run through `runuser`.
    """

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.initdb = _postgres_bin("initdb")
        self.pg_ctl = _postgres_bin("pg_ctl")
        self.directory: Path | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why a private cluster cannot be made here, or None when it can."""
        if not _postgres_bin("initdb") or not _postgres_bin("pg_ctl"):
            return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if os.geteuid() == 0 and (not shutil.which("runuser") or not _user_exists("postgres")):
            return "running as root without runuser or a postgres user to own the cluster"
        return None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/aggregator"

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, timeout=timeout, capture_output=True)

    def create(self) -> "PrivateCluster":
        self.directory = Path(tempfile.mkdtemp(prefix="aggregator-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        data = str(self.directory / "data")
        self._run(
            self.initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"
        )
        with open(self.directory / "data" / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.directory}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
            )
        self.start()
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as db:
            db.execute("CREATE DATABASE aggregator")
        return self

    def start(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.directory / "data"), "-l", str(self.directory / "log"), "-w", "start")

    def stop(self) -> None:
        """Shut down at once, as a crash or a failover would look to clients: connections drop."""
        self._run(self.pg_ctl, "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        if self.directory is None:
            return
        try:
            self._run(self.pg_ctl, "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop", timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass  # already stopped
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def connections(self, database: str = "aggregator") -> int:
        """Connections to `database` now, from pg_stat_activity (this query's own not counted)."""
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as db:
            row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]).fetchone()
        return row[0]


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def collected_static_root() -> str:
    """A STATIC_ROOT holding collected static files, which the web process needs to start.

    Collected once (about 5 s) into `.test-staticfiles` beside the code and kept for later runs;
    built in a directory of its own and renamed into place, so parallel runs never see half of it.
    """
    target = ROOT / ".test-staticfiles"
    if (target / "staticfiles.json").exists():
        return str(target)
    building = Path(tempfile.mkdtemp(prefix=".test-staticfiles-", dir=ROOT))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
        "SECRET_KEY": "collectstatic-only",
        "CURRENCY": "EUR",
        "STATIC_ROOT": str(building),
    }
    command = [PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=300)
    try:
        building.rename(target)
    except OSError:  # another run got there first
        shutil.rmtree(building, ignore_errors=True)
    return str(target)


def service_env(database_url: str, offers_url: str, refresh_token: str, **extra: str) -> dict[str, str]:
    """The environment of web and worker processes: production settings, this run's services."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
        "SECRET_KEY": "live-test-only",
        "CURRENCY": "EUR",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "DB_CONNECT_TIMEOUT": "2",
        "OFFERS_SERVICE_URL": offers_url,
        "OFFERS_REFRESH_TOKEN": refresh_token,
        "LOG_LEVEL": "INFO",
        "GUNICORN_ACCESS_LOG": "false",
        "STATIC_ROOT": collected_static_root(),
        **extra,
    }


class Process:
    """A child process whose output goes to a file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_kb(self) -> int:
        """Resident memory of the process and its children (gunicorn's workers), in KiB."""
        return sum(_rss_kb(pid) for pid in [self.pid, *_children(self.pid)])

    def stop(self, timeout: float = 30) -> int | None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()
        return self.popen.returncode


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def create_api_token(env: dict[str, str], username: str = "live") -> str:
    """A user with an API token and the product permissions, made the way an operator would (manage.py)."""
    code = (
        "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
        "from django.contrib.auth.models import Permission; "
        f"user, _ = get_user_model().objects.get_or_create(username={username!r}); "
        "user.user_permissions.add(*Permission.objects.filter(content_type__app_label='catalogue', "
        "codename__in=['add_product', 'change_product', 'delete_product'])); "
        "print(Token.objects.get_or_create(user=user)[0].key)"
    )
    return manage(env, "shell", "-c", code).strip().splitlines()[-1]


def start_web(env: dict[str, str], port: int, log_dir: Path, *, workers: int = 2) -> Process:
    command = [
        PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "aggregator.wsgi",
    ]  # fmt: skip
    web = Process("web", command, env, log_dir)
    wait_for(
        lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code, timeout=60, what="gunicorn"
    )
    return web


def start_worker(env: dict[str, str], log_dir: Path) -> Process:
    return Process("worker", [PYTHON, "manage.py", "run_sync"], env, log_dir)


class Api:
    """The API over HTTP, as a consumer calls it."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10):
        self.base_url = base_url
        self.session = requests.Session()
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.request("POST", path, json=body)

    def all_products(self) -> list[dict]:
        products, url = [], self.base_url + "/products?limit=1000"
        while url:
            response = self.session.get(url, timeout=self.timeout)
            response.raise_for_status()
            products += response.json()
            url = response.links.get("next", {}).get("url")
        return products


def current_database_url() -> str:
    """DATABASE_URL of the database this test (this xdist worker) uses, for the processes it starts."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_gunicorn(port: int, tmp_path: Path, **env: str) -> subprocess.Popen:
    """One gunicorn worker as deployed (gunicorn.conf.py) on `port`, on an unused SQLite database in
    `tmp_path`; `env` adds to its environment. Its stdout and stderr are piped, as text."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SECRET_KEY": "test-only",
        "CURRENCY": "EUR",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        **env,
    }
    command = [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "aggregator.wsgi"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker process on this test's database, with production settings."""
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
        "SECRET_KEY": "e2e-only",
        "CURRENCY": "EUR",
        "DATABASE_URL": current_database_url(),
        **extra,
    }


class DrippingReceivers:
    """One socket server for many slow webhook endpoints (`/slow/<n>`): each request is answered a
    byte every 0.1 s for ever (the status line, then endless headers). It notes any moment at
    which one endpoint had two requests open at once, and how long each request was held open."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.open: dict[str, int] = {}
        self.requests = 0
        self.overlaps: list[str] = []
        self.held: list[float] = []  # seconds from each request to the sender hanging up
        self.first_request_at: float | None = None  # time.monotonic()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/slow/{n}"

    def __enter__(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.listener.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket):
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode()
            opened = time.monotonic()
            with self.lock:
                self.requests += 1
                if self.first_request_at is None:
                    self.first_request_at = opened
                if self.open.get(path):
                    self.overlaps.append(path)
                self.open[path] = self.open.get(path, 0) + 1
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stopping.wait(0.1):
                    connection.sendall(b"X")
            except OSError:
                pass  # the worker hung up: its attempt's deadline
            finally:
                with self.lock:
                    self.open[path] -= 1
                    self.held.append(time.monotonic() - opened)
