"""Crash safety and bounds of app setup (issue 9), with the recording test app of
test_setup.py: an operator killed between an exec and the status write that records
it runs `--configure` once per container and loses no notification; every hang
(fetch, configure, notify, a failing exec) ends within its bound, is reported in
`Degraded` naming the member, and holds up no other cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubedirector.setup import crashpoint
from tests.conftest import LocalCluster
from tests.e2e import test_setup
from tests.e2e.support import tcpproxy
from tests.e2e.support.kdcluster import patch, set_workers
from tests.e2e.support.operator import Operator, start_operator, wait_until
from tests.e2e.test_setup import (
    apply,
    calls,
    fqdn,
    members,
    recorder_app,
    recorder_cluster,
    status,
    wait_heard,
    wait_ready,
)

package_server = test_setup.package_server  # the recording app's HTTP server (a fixture)


class Operators:
    """Operators started one after another in a test; at the end one deletes the
    namespace's clusters (through their finalizer), then stops."""

    def __init__(
        self, local_cluster: LocalCluster, kubectl, namespace: str, tmp_path: Path
    ) -> None:
        self.local_cluster, self.kubectl, self.namespace = local_cluster, kubectl, namespace
        self.tmp_path = tmp_path
        self.current: Operator | None = None
        self.count = 0

    def start(self, *flags: str, env: dict[str, str] | None = None) -> Operator:
        assert self.current is None or self.current.proc.poll() is not None
        self.count += 1
        self.current = start_operator(
            self.local_cluster.kubeconfig,
            self.namespace,
            self.tmp_path / f"operator-{self.count}.log",
            "--no-leader-elect",
            "--workers",
            "2",
            *flags,
            env=env,
        )
        return self.current

    def wait_crash(self, timeout: float = 90) -> None:
        op = self.current
        assert op is not None
        wait_until(lambda: op.proc.poll() is not None, timeout, "the operator to crash")
        assert op.proc.returncode == crashpoint.CRASH_EXIT_CODE, op.log.read_text()[-3000:]

    def close(self) -> None:
        if self.current is None or self.current.proc.poll() is not None:
            self.start()
        assert self.current is not None
        self.kubectl(
            "delete", "kdcluster", "--all", "-n", self.namespace, "--timeout=60s", timeout=90
        )
        self.current.stop()


@pytest.fixture
def operators(
    local_cluster: LocalCluster, kubectl, namespace: str, tmp_path: Path
) -> Iterator[Operators]:
    ops = Operators(local_cluster, kubectl, namespace, tmp_path)
    yield ops
    ops.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An HTTP address whose server accepts connections and never answers."""
    with tcpproxy.silent_server() as port:
        yield f"http://127.0.0.1:{port}"


def degraded(kubectl, namespace: str, name: str) -> dict:
    st = status(kubectl, namespace, name)
    return next((c for c in st.get("conditions", []) if c["type"] == "Degraded"), {})


def config_error_member(kubectl, namespace: str, name: str) -> dict:
    """The cluster's first member in `config error`, once there is one (within 90 s)."""
    found = wait_until(
        lambda: next(
            (
                m
                for m in members(status(kubectl, namespace, name)).values()
                if m["state"] == "config error"
            ),
            None,
        ),
        90,
        f"a member of {name} to become a config error",
    )
    assert isinstance(found, dict)
    return found


# ---------------------------------------------------------------- crash safety


@pytest.mark.parametrize(
    "point", [crashpoint.SETUP_STARTED, crashpoint.SETUP_ENDED, crashpoint.NOTIFIED]
)
def test_a_crash_between_an_exec_and_its_status_write(
    kubectl, namespace, operators, package_server, point
):
    """The operator dies hard right after the exec (os._exit at the crash point), before
    the status write; the restarted one configures each container exactly once and
    delivers every addnodes/delnodes at least once."""
    crash = {crashpoint.CRASH_ENV: point}
    operators.start(env=crash)
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("rec", "recorder", {"a": 1, "b": 1}))
    if point != crashpoint.NOTIFIED:
        operators.wait_crash()
        operators.start()
    original = sorted(members(wait_ready(kubectl, namespace, "rec")))

    set_workers(kubectl, namespace, "rec", 2)
    if point == crashpoint.NOTIFIED:
        operators.wait_crash()
        operators.start()
    wait_until(lambda: len(members(status(kubectl, namespace, "rec"))) == 3, 60, "3 members")
    grown = wait_ready(kubectl, namespace, "rec")
    (added,) = sorted(set(members(grown)) - set(original))
    for pod in members(grown):
        assert calls(kubectl, namespace, pod).count("--configure") == 1, pod
    wait_heard(kubectl, namespace, original, "addnodes", {fqdn(grown, namespace, added)})

    set_workers(kubectl, namespace, "rec", 1)
    wait_until(lambda: len(members(status(kubectl, namespace, "rec"))) == 2, 60, "2 members")
    wait_heard(kubectl, namespace, original, "delnodes", {fqdn(grown, namespace, added)})
    for pod in original:
        assert calls(kubectl, namespace, pod).count("--configure") == 1, pod


# ---------------------------------------------------------------- every wait is bounded


def test_a_hung_configure_is_stopped_at_its_deadline(kubectl, namespace, operators, package_server):
    operators.start("--configure-timeout", "5")
    apply(kubectl, namespace, recorder_app("hanging", f"{package_server}/recorder.tgz", "hang"))
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("stuck", "hanging", {"a": 1}))
    apply(kubectl, namespace, recorder_cluster("quick", "recorder", {"a": 1, "b": 1}))
    member = config_error_member(kubectl, namespace, "stuck")
    assert member["stateDetail"]["configErrorDetail"] == (
        "app setup (--configure) did not finish within 5s and was stopped"
    )
    assert degraded(kubectl, namespace, "stuck")["reason"] == "ConfigError"
    wait_ready(kubectl, namespace, "quick", timeout=60)


def test_a_hung_package_fetch_ends_at_its_bound(
    kubectl, namespace, operators, package_server, silent_server
):
    operators.start("--fetch-timeout", "3")
    url = f"{silent_server}/never.tgz"
    apply(kubectl, namespace, recorder_app("silent", url))
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("nofetch", "silent", {"a": 1}))
    apply(kubectl, namespace, recorder_cluster("quick", "recorder", {"a": 1, "b": 1}))
    member = config_error_member(kubectl, namespace, "nofetch")
    assert (
        f"setup package {url}: could not be fetched" in member["stateDetail"]["configErrorDetail"]
    )
    wait_ready(kubectl, namespace, "quick", timeout=60)


def test_a_hung_notification_is_bounded_and_reported(kubectl, namespace, operators, package_server):
    operators.start("--notify-timeout", "2")
    apply(kubectl, namespace, recorder_app("deaf", f"{package_server}/recorder.tgz", "hangnotify"))
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("deaf", "deaf", {"a": 1, "b": 1}))
    original = sorted(members(wait_ready(kubectl, namespace, "deaf")))
    set_workers(kubectl, namespace, "deaf", 2)
    cond = wait_until(
        lambda: (c := degraded(kubectl, namespace, "deaf")).get("reason") == "NotifyFailing" and c,
        90,
        "Degraded NotifyFailing",
    )
    assert any(pod in cond["message"] for pod in original), cond["message"]
    assert "timed out" in cond["message"] or "status 124" in cond["message"]
    apply(kubectl, namespace, recorder_cluster("quick", "recorder", {"a": 1, "b": 1}))
    wait_ready(kubectl, namespace, "quick", timeout=60)
    # every member still got the call (it hung there, bounded), and is still listed
    for pod in original:
        assert any(line.startswith("--addnodes") for line in calls(kubectl, namespace, pod))


def test_failing_execs_back_off_and_surface_as_setup_failing(
    kubectl, namespace, operators, package_server
):
    """A pod whose exec cannot run (its simulated runtime broken): `Degraded`
    `SetupFailing` naming the member; once exec works again, setup finishes."""
    operators.start()
    apply(kubectl, namespace, recorder_app("hanging", f"{package_server}/recorder.tgz", "hang"))
    apply(kubectl, namespace, recorder_cluster("broken", "hanging", {"a": 1}))
    pod = wait_until(
        lambda: next(
            (
                p
                for p, m in members(status(kubectl, namespace, "broken")).items()
                if m["stateDetail"].get("setupRunId")
            ),
            None,
        ),
        60,
        "setup to start",
    )
    exec_obj = json.loads(
        kubectl("get", "execs.kwok.x-k8s.io", pod, "-n", namespace, "-o", "json").stdout
    )
    good = exec_obj["spec"]
    broken = json.loads(json.dumps(good))
    broken["execs"][0]["local"]["workDir"] = "/nonexistent/kd-broken-exec"
    patch(kubectl, namespace, f"execs.kwok.x-k8s.io/{pod}", {"spec": broken})
    cond = wait_until(
        lambda: (c := degraded(kubectl, namespace, "broken")).get("reason") == "SetupFailing" and c,
        60,
        "Degraded SetupFailing",
    )
    assert pod in cond["message"] and "cannot poll app setup" in cond["message"]
    detail = members(status(kubectl, namespace, "broken"))[pod]["stateDetail"]
    assert detail["setupExecFailures"] >= 1
    patch(kubectl, namespace, f"execs.kwok.x-k8s.io/{pod}", {"spec": good})
    wait_until(
        lambda: degraded(kubectl, namespace, "broken").get("reason") != "SetupFailing",
        120,
        "exec to work again",
    )
    detail = members(status(kubectl, namespace, "broken"))[pod]["stateDetail"]
    assert "setupExecFailures" not in detail
    assert calls(kubectl, namespace, pod).count("--configure") == 1
