"""A real Prometheus scrapes the real processes with the shipped configuration.

deploy/prometheus/prometheus.yml and alerts.yml, as an operator installs them, changed only where
an installation must change them: the targets' addresses (here loopback ports; service discovery
by DNS names becomes a static list) and the token file's path. Prometheus (Debian's `prometheus`
package) then scrapes gunicorn, a `run_sync` worker and a `run_webhooks` worker; the test asks
its HTTP API that every target is up, that the rules loaded and were evaluated, and that the
rules' series carry the job names the configuration gives them.
"""

import copy
from pathlib import Path

import pytest
import requests
import yaml

from devtools.fake_service import FakeOffersService
from tests.system.live import (
    PYTHON,
    ROOT,
    Process,
    current_database_url,
    free_port,
    service_env,
    start_web,
    wait_for,
)
from tests.tools import prometheus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHIPPED = ROOT / "deploy/prometheus"
TOKEN = "prometheus-system-test-token"
REFRESH_TOKEN = "prometheus-test-refresh-token"
# The shipped scrape and evaluation interval is 15 s: the first scrape of each target comes within
# that of the start, the rules' first evaluation likewise.
WAIT_SECONDS = 50


def installed_configuration(directory: Path, targets: dict[str, str]) -> Path:
    """The shipped files in `directory`, with these targets (job → host:port) and the token file there."""
    config = yaml.safe_load((SHIPPED / "prometheus.yml").read_text())
    shipped_jobs = copy.deepcopy(config["scrape_configs"])
    token_file = directory / "aggregator-metrics-token"
    token_file.write_text(TOKEN)
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        job["authorization"]["credentials_file"] = str(token_file)
    # Nothing else differs from what is shipped.
    for shipped, installed in zip(shipped_jobs, config["scrape_configs"], strict=True):
        for key in set(shipped) | set(installed):
            if key not in {"static_configs", "dns_sd_configs", "authorization"}:
                assert shipped.get(key) == installed.get(key)
        assert shipped["authorization"]["type"] == installed["authorization"]["type"]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    (directory / "alerts.yml").write_text((SHIPPED / "alerts.yml").read_text())
    return path


def test_prometheus_scrapes_every_process_and_loads_the_rules(tmp_path):
    binary = prometheus()
    ports = {"web": free_port(), "sync": free_port(), "webhooks": free_port(), "prometheus": free_port()}
    with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, churn_interval=0) as fake:
        env = service_env(
            current_database_url(),
            fake.url,
            REFRESH_TOKEN,
            METRICS_TOKEN=TOKEN,
            ALLOWED_HOSTS="127.0.0.1",
            SYNC_METRICS_ADDRESS="127.0.0.1",
            SYNC_METRICS_PORT=str(ports["sync"]),
            WEBHOOK_METRICS_ADDRESS="127.0.0.1",
            WEBHOOK_METRICS_PORT=str(ports["webhooks"]),
            TMPDIR=str(tmp_path),  # gunicorn's metrics directory
        )
        processes = []
        try:
            processes.append(start_web(env, ports["web"], tmp_path, workers=1))
            processes.append(Process("sync", [PYTHON, "manage.py", "run_sync"], env, tmp_path))
            processes.append(Process("webhooks", [PYTHON, "manage.py", "run_webhooks"], env, tmp_path))
            for worker in ("sync", "webhooks"):  # listening before Prometheus starts
                url = f"http://127.0.0.1:{ports[worker]}/metrics"
                auth = {"Authorization": f"Bearer {TOKEN}"}
                wait_for(lambda url=url, auth=auth: requests.get(url, headers=auth, timeout=2).ok, timeout=60, what=url)
            config = installed_configuration(
                tmp_path,
                {
                    "aggregator-web": f"127.0.0.1:{ports['web']}",
                    "aggregator-sync": f"127.0.0.1:{ports['sync']}",
                    "aggregator-webhooks": f"127.0.0.1:{ports['webhooks']}",
                },
            )
            server = Process(
                "prometheus",
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                ],
                {"PATH": "/usr/bin:/bin"},
                tmp_path,
            )
            processes.append(server)
            api = f"http://127.0.0.1:{ports['prometheus']}/api/v1"

            def data(path: str, **params) -> dict | list:
                response = requests.get(api + path, params=params, timeout=5)
                response.raise_for_status()
                return response.json()["data"]

            def every_target_scraped() -> list[dict] | None:
                assert all(process.alive() for process in processes), [p.log()[-2000:] for p in processes]
                targets = data("/targets")["activeTargets"]
                return targets if targets and all(t["health"] != "unknown" for t in targets) else None

            targets = wait_for(every_target_scraped, timeout=WAIT_SECONDS, what="Prometheus' first scrapes")
            assert {(t["labels"]["job"], t["health"], t["lastError"]) for t in targets} == {
                ("aggregator-web", "up", ""),
                ("aggregator-sync", "up", ""),
                ("aggregator-webhooks", "up", ""),
            }

            shipped_rules = {
                rule["alert"]
                for group in yaml.safe_load((SHIPPED / "alerts.yml").read_text())["groups"]
                for rule in group["rules"]
            }

            scraped_at = max(target["lastScrape"] for target in targets)

            def rules_evaluated_since_the_scrapes() -> list[dict] | None:
                # RFC 3339 times of one clock and format: their order is the strings' order.
                rules = [rule for group in data("/rules")["groups"] for rule in group["rules"]]
                return rules if rules and all(rule["lastEvaluation"] > scraped_at for rule in rules) else None

            rules = wait_for(rules_evaluated_since_the_scrapes, timeout=WAIT_SECONDS, what="the rules' evaluation")
            assert {rule["name"] for rule in rules} == shipped_rules
            assert {rule["name"]: rule["health"] for rule in rules} == dict.fromkeys(shipped_rules, "ok")
            # Every process answers, so no "down" alert is even pending (before the first scrapes,
            # `absent` made them pending for a moment): the jobs' names in the rules are the configuration's.
            alerts = {alert["labels"]["alertname"] for alert in data("/alerts")["alerts"]}
            assert alerts.isdisjoint({"AggregatorWebDown", "AggregatorSyncWorkerDown", "AggregatorWebhookWorkerDown"})
            # The series the rules ask for arrive under the jobs they name.
            for query in (
                'aggregator_webhook_deliveries_pending{job="aggregator-web"}',
                'aggregator_webhook_deliveries_overdue_seconds{job="aggregator-web"}',
                'aggregator_products{job="aggregator-web", state="registered"}',
                'aggregator_webhook_deliveries_total{job="aggregator-webhooks", outcome="delivered"}',
                'aggregator_sync_cycles_total{job="aggregator-sync"}',
            ):
                assert data("/query", query=query)["result"], query
        finally:
            for process in reversed(processes):
                process.stop()
