"""Under gunicorn with several worker processes, /metrics counts every process's requests."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.system.live import collected_static_root
from tests.system.test_gunicorn_logs import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
TOKEN = "gunicorn-metrics-test-token"


def get(url: str, **headers) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


@pytest.mark.e2e
def test_two_gunicorn_workers_report_the_sum_of_their_requests(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SECRET_KEY": "test-only",
        "CURRENCY": "EUR",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "METRICS_TOKEN": TOKEN,
        "THROTTLE_ANON_READ_RATE": "off",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": collected_static_root(),
        # gunicorn.conf.py makes the processes' shared metrics directory under it.
        "TMPDIR": str(tmp_path),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "aggregator.wsgi"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/no-such-page", timeout=2)
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.1)
        assert get(f"{base}/metrics")[0] == 401
        requests_sent = 60
        # Concurrently, so that both worker processes serve some of them.
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: get(f"{base}/health")[0], range(requests_sent)))
        assert statuses == [200] * requests_sent
        status, body, headers = get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain")
        families = {family.name: family for family in text_string_to_metric_families(body.decode())}
        served = sum(
            s.value
            for s in families["aggregator_http_requests"].samples
            if s.name == "aggregator_http_requests_total" and s.labels["route"] == "health"
        )
        assert served == requests_sent
        timed = [
            s.value
            for s in families["aggregator_http_request_duration_seconds"].samples
            if s.name.endswith("_count") and s.labels["route"] == "health"
        ]
        assert timed == [requests_sent]
        assert {s.labels["state"]: s.value for s in families["aggregator_products"].samples} == {
            "registered": 0,
            "pending": 0,
        }
        (metrics_dir,) = tmp_path.glob("aggregator-metrics-*")
        # Both processes served some of the requests (each writes its own file), and the sum is exact.
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert list(tmp_path.glob("aggregator-metrics-*")) == []  # removed when gunicorn exits
