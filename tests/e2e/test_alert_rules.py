"""The shipped alerts under promtool: the rule file Prometheus gets from the PrometheusRule
passes `promtool check rules`, and `promtool test rules` runs tests/monitoring's cases, in
which every alert both fires and stays quiet."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from tests.conftest import REPO
from tests.e2e.support.prometheus import alert_rules, prometheus_bin_dir, rule_groups

RULE_TESTS = REPO / "tests" / "monitoring" / "alerts-test.yaml"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(prometheus_bin_dir() / "promtool"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_alert_has_a_firing_and_a_quiet_case():
    cases: dict[str, set[bool]] = {}
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    alerts = {rule["alert"] for rule in alert_rules()}
    assert set(cases) == alerts
    assert {name for name, kinds in cases.items() if kinds != {True, False}} == set()


def test_rules_pass_promtool_check_and_their_unit_tests(tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups(), sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / "alerts-test.yaml")
    check = promtool("check", "rules", str(tmp_path / "rules.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in check.stdout
    result = promtool("test", "rules", str(tmp_path / "alerts-test.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
