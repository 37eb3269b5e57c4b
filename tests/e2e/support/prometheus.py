"""A real Prometheus (built from its Go module by hack/build-binaries.sh) for the monitoring
tests, and the shipped monitoring manifests read the way Prometheus and Grafana read them."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.support.operator import REPO, free_port, stop_process, wait_until

MONITORING = REPO / "manifests" / "components" / "monitoring"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "dashboard.json"
# The trailing threshold of an alert expression: what is left is the signal.
THRESHOLD = re.compile(r"\s*(?:[<>]=?|==|!=)\s*[0-9.e]+(?:\s*\*\s*[0-9.e]+)*\s*$")
ABSENT = re.compile(r"^absent\((?P<inner>.*)\)$", re.DOTALL)


def _build(what: str) -> Path:
    """Run hack/build-binaries.sh `what` (builds or reuses the cache); its folder."""
    out = subprocess.run(
        ["bash", str(REPO / "hack" / "build-binaries.sh"), what],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert out.returncode == 0, f"hack/build-binaries.sh {what} failed:\n{out.stderr[-3000:]}"
    return Path(out.stdout.strip().splitlines()[-1])


def prometheus_bin_dir() -> Path:
    return _build("prometheus")


def monitoring_crd_dir() -> Path:
    return _build("monitoring-crds")


def rule_groups() -> dict[str, Any]:
    """The shipped PrometheusRule's groups as a Prometheus rule file, unchanged."""
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    return {"groups": rule["spec"]["groups"]}


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in rule_groups()["groups"] for r in g["rules"] if "alert" in r]


def signal(expr: str) -> str:
    """The part of an alert expression that must return series while the operator runs:
    the expression without its threshold, or what absent() looks for."""
    expr = " ".join(expr.split())
    absent = ABSENT.match(expr)
    return absent["inner"] if absent else THRESHOLD.sub("", expr)


def dashboard_queries(rate_interval: str) -> list[tuple[str, str]]:
    """(panel title, query) for every query of the dashboard, with Grafana's
    $__rate_interval replaced as Grafana would."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (p["title"], t["expr"].replace("$__rate_interval", rate_interval))
        for p in dashboard["panels"]
        for t in p.get("targets", [])
    ]


@dataclass
class Prometheus:
    """A running Prometheus and its HTTP API."""

    proc: subprocess.Popen
    port: int
    log: Path

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = json.loads(e.read())
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]

    def stop(self, timeout: float = 20) -> None:
        stop_process(self.proc, timeout)


def start_prometheus(
    workdir: Path, targets: list[str], *, scheme: str = "http", bearer_token: str | None = None
) -> Prometheus:
    """Prometheus scraping `targets` every second as job kubedirector-metrics, with the
    shipped rules evaluated every second; fails the test if it cannot start."""
    bin_dir = prometheus_bin_dir()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "rules.yaml").write_text(yaml.safe_dump(rule_groups(), sort_keys=False))
    job: dict[str, Any] = {
        "job_name": "kubedirector-metrics",
        "scheme": scheme,
        "static_configs": [{"targets": targets}],
    }
    if bearer_token:
        (workdir / "token").write_text(bearer_token)
        job["authorization"] = {"type": "Bearer", "credentials_file": str(workdir / "token")}
        job["tls_config"] = {"insecure_skip_verify": True}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(workdir / "rules.yaml")],
        "scrape_configs": [job],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    check = subprocess.run(
        [str(bin_dir / "promtool"), "check", "config", str(workdir / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(bin_dir / "prometheus"),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    prom = Prometheus(proc, port, log)

    def ready() -> bool:
        assert proc.poll() is None, f"prometheus exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_until(ready, 60, "prometheus ready", interval=0.5)
    except BaseException:
        prom.stop()
        raise
    return prom
