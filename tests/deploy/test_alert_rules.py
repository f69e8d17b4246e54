"""The shipped alert rules load in Prometheus, and each behaves as its unit tests say.

deploy/prometheus/alerts_test.yml feeds series to every rule and names the alerts expected out,
including a case where each rule must stay silent; `promtool test rules` runs it. That every metric
a rule names is exported is aggregator/tests/test_monitoring.py's check.
"""

import subprocess
from pathlib import Path

import yaml

from tests.tools import promtool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/alerts.yml"
RULE_TESTS = ROOT / "deploy/prometheus/alerts_test.yml"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def rule_names() -> list[str]:
    return [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_the_rules_load():
    result = run(promtool(), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_names())} rules found" in result.stdout


def test_every_rule_fires_and_stays_silent_as_its_unit_tests_say():
    result = run(promtool(), "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_has_a_case_where_it_fires_and_one_where_it_must_not():
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    fires = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert len(rule_names()) >= 10  # the reading works
    assert sorted(set(rule_names()) - fires) == []
    assert sorted(set(rule_names()) - silent) == []


def test_the_scrape_configuration_loads_with_its_rules(tmp_path):
    # As an operator installs it: the two files side by side, the token file where the config says.
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    token = tmp_path / "token"
    token.write_text("t")
    for job in config["scrape_configs"]:
        job["authorization"]["credentials_file"] = str(token)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "alerts.yml").write_text(RULES.read_text())
    result = run(promtool(), "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
