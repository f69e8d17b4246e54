"""The example alert rules and Grafana dashboard ask only for series that the web and the workers expose."""

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alerts.metrics import webhook_metrics
from offers_sync.metrics import sync_metrics

ROOT = Path(__file__).resolve().parent.parent.parent
SERIES = re.compile(r"\baggregator_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed(text: str) -> set[str]:
    """Every series name a scrape of this text can have, including those with no sample yet."""
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
        names |= {sample.name for sample in family.samples}
    return names


@pytest.fixture
def every_series(client, settings) -> set[str]:
    settings.METRICS_TOKEN = "t"
    client.get("/health")
    web = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t")
    assert web.status_code == 200
    workers = (sync_metrics().registry, webhook_metrics().registry)
    return exposed(web.content.decode()).union(*(exposed(generate_latest(r).decode()) for r in workers))


def expressions_of_the_alert_rules() -> list[str]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def expressions_of_the_dashboard() -> list[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/aggregator-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.mark.django_db
@pytest.mark.parametrize("source", [expressions_of_the_alert_rules, expressions_of_the_dashboard])
def test_every_series_asked_for_exists(every_series, source):
    expressions = source()
    asked = {name for expr in expressions for name in SERIES.findall(expr)}
    assert len(expressions) >= 4 and asked
    assert sorted(asked - every_series) == []


@pytest.mark.django_db
def test_the_issue_s_series_are_all_exposed(every_series):
    assert {
        "aggregator_products",
        "aggregator_products_stale",
        "aggregator_sync_last_success_timestamp_seconds",
        "aggregator_http_requests_total",
        "aggregator_http_request_duration_seconds_bucket",
        "aggregator_sync_cycles_total",
        "aggregator_sync_cycle_duration_seconds_bucket",
        "aggregator_sync_products_total",
        "aggregator_sync_offer_changes_total",
        "aggregator_upstream_requests_total",
        "aggregator_upstream_request_duration_seconds_bucket",
        "aggregator_access_token_renewals_total",
        "aggregator_webhook_deliveries_total",
        "aggregator_webhook_deliveries_pending",
    } <= every_series


def test_the_scrape_configuration_reads_and_sends_the_token():
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"aggregator-web", "aggregator-sync", "aggregator-webhooks"}
    for job in jobs.values():
        assert job["metrics_path"] == "/metrics"
        assert job["authorization"]["type"] == "Bearer"
