"""Scenario C of acceptance.md: app setup inside members, with a test app whose
setup package records every call and can be told (through the app's configMeta)
to fail, hang in `--configure` (`hang`) or hang in every other call (`hangnotify`).
The package is served over HTTP on 127.0.0.1 by the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import kdcluster
from tests.e2e.support.guest import guest_file, serve_package
from tests.e2e.support.guest import startscript_calls as calls
from tests.e2e.support.kdcluster import events, patch, set_workers
from tests.e2e.support.operator import free_port, wait_until

STARTSCRIPT = """#!/bin/bash
R="${KD_GUEST_ROOT:-}"
mkdir -p "$R/var/log/guestconfig"
echo "$*" >> "$R/var/log/guestconfig/startscript.calls"
mode="$(grep -o '"mode":"[a-z]*"' "$R/etc/guestconfig/configmeta.json" | head -n 1 | cut -d'"' -f4)"
if [ "$1" = "--configure" ]; then
  case "$mode" in
    fail) echo "configure says hello"; echo "failing on purpose" >&2; exit 7 ;;
    hang) sleep 120 ;;
  esac
elif [ "$mode" = "hangnotify" ]; then
  sleep 120
fi
exit 0
"""


@pytest.fixture(scope="module")
def package_server(tmp_path_factory) -> Iterator[str]:
    """An HTTP server on loopback serving the recorder package as /recorder.tgz."""
    with serve_package(tmp_path_factory.mktemp("packages"), "recorder", STARTSCRIPT) as url:
        yield url


def recorder_app(name: str, url: str, mode: str = "ok") -> dict:
    role = {"cardinality": "0+", "imageRepoTag": "example/recorder:1"}
    return {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorApp",
        "metadata": {"name": name},
        "spec": {
            "label": {"name": "recorder"},
            "distroID": "example/recorder",
            "version": "1",
            "configSchemaVersion": 7,
            "defaultConfigPackage": {"packageURL": url},
            "services": [{"id": "ssh", "label": {"name": "ssh"}, "endpoint": {"port": 22}}],
            "roles": [
                {**role, "id": "a", "cardinality": "1"},
                {**role, "id": "b"},
                {**role, "id": "c"},
            ],
            "config": {
                "selectedRoles": ["a", "b", "c"],
                "roleServices": [{"roleID": r, "serviceIDs": ["ssh"]} for r in ("a", "b", "c")],
                "configMeta": {"mode": mode},
            },
        },
    }


def recorder_cluster(
    name: str, app: str, members: dict[str, int], configmaps: list[str] | None = None
) -> dict:
    res = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "100m", "memory": "128Mi"},
    }
    spec: dict = {
        "app": app,
        "roles": [{"id": r, "members": n, "resources": res} for r, n in members.items()],
    }
    if configmaps:
        spec["connections"] = {"configmaps": configmaps}
    return {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorCluster",
        "metadata": {"name": name},
        "spec": spec,
    }


def apply(kubectl, namespace: str, doc: dict) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc))


def status(kubectl, namespace: str, name: str) -> dict:
    return json.loads(kubectl("get", "kdcluster", name, "-n", namespace, "-o", "json").stdout).get(
        "status", {}
    )


def members(st: dict) -> dict[str, dict]:
    return {m["pod"]: {**m, "role": r["id"]} for r in st.get("roles", []) for m in r["members"]}


def wait_ready(kubectl, namespace: str, name: str, timeout: int = 90) -> dict:
    """The cluster's status once it is Ready."""
    return kdcluster.wait_ready(kubectl, namespace, name, timeout)["status"]


def fqdns(call_lines: list[str], event: str, role: str) -> set[str]:
    found: set[str] = set()
    for line in call_lines:
        args = line.split()
        if args[:1] == [f"--{event}"] and args[args.index("--role") + 1] == role:
            found |= set(args[args.index("--fqdns") + 1].split(","))
    return found


def wait_heard(
    kubectl, namespace: str, pods: list[str], event: str, expected: set[str], timeout: float = 60
) -> None:
    """Until each pod's startscript has been told, by `--<event>` for role b, of exactly
    the `expected` FQDNs."""
    for pod in pods:

        def heard(p: str = pod) -> bool:
            return fqdns(calls(kubectl, namespace, p), event, "b") == expected

        wait_until(
            heard,
            timeout,
            f"{pod} to hear --{event} of {sorted(expected)}",
        )


def fqdn(st: dict, namespace: str, pod: str) -> str:
    return f"{pod}.{st['clusterService']}.{namespace}.svc.cluster.local"


def test_configure_once_and_membership_notifications(kubectl, namespace, operator, package_server):
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("rec", "recorder", {"a": 1, "b": 1, "c": 1}))
    first = wait_ready(kubectl, namespace, "rec")
    original = sorted(members(first))
    for pod in original:
        assert calls(kubectl, namespace, pod) == ["--configure"], pod

    set_workers(kubectl, namespace, "rec", 3)
    wait_until(lambda: len(members(status(kubectl, namespace, "rec"))) == 5, 60, "5 members")
    grown = wait_ready(kubectl, namespace, "rec")
    added = sorted(set(members(grown)) - set(original))
    assert len(added) == 2
    expected = {fqdn(grown, namespace, p) for p in added}
    wait_heard(kubectl, namespace, original, "addnodes", expected, timeout=30)
    for pod in added:
        assert calls(kubectl, namespace, pod) == ["--configure"], pod

    set_workers(kubectl, namespace, "rec", 1)
    wait_until(
        lambda: len(members(status(kubectl, namespace, "rec"))) == 3, 60, "back to 3 members"
    )
    shrunk = wait_ready(kubectl, namespace, "rec")
    assert sorted(members(shrunk)) == original
    for pod in original:
        heard = fqdns(calls(kubectl, namespace, pod), "delnodes", "b")
        assert heard == expected, pod
    node_ids = [m["nodeID"] for m in members(shrunk).values()]
    assert len(set(node_ids)) == 3 and shrunk["lastNodeID"] == 5


def test_failing_configure_is_a_config_error_with_output(
    kubectl, namespace, operator, package_server
):
    apply(kubectl, namespace, recorder_app("failing", f"{package_server}/recorder.tgz", "fail"))
    apply(kubectl, namespace, recorder_cluster("bad", "failing", {"a": 1}))

    def errored() -> dict | None:
        m = next(iter(members(status(kubectl, namespace, "bad")).values()), None)
        return m if m and m["state"] == "config error" else None

    member = wait_until(errored, 60, "config error")
    detail = member["stateDetail"]
    assert "exited with status 7" in detail["configErrorDetail"]
    assert "failing on purpose" in detail["startScriptStderrMessage"]
    assert "configure says hello" in detail["startScriptStdoutMessage"]
    st = status(kubectl, namespace, "bad")
    degraded = next(c for c in st["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == "ConfigError"
    assert st["memberStateRollup"]["configErrors"] is True
    warnings = events(kubectl, namespace, "involvedObject.name=bad,type=Warning")
    assert any("config error" in e["message"] for e in warnings), warnings


def test_unreachable_package_is_a_clear_config_error(kubectl, namespace, operator):
    url = f"http://127.0.0.1:{free_port()}/nowhere.tgz"
    apply(kubectl, namespace, recorder_app("unreachable", url))
    apply(kubectl, namespace, recorder_cluster("nopkg", "unreachable", {"a": 1}))
    member = wait_until(
        lambda: next(
            (
                m
                for m in members(status(kubectl, namespace, "nopkg")).values()
                if m["state"] == "config error"
            ),
            None,
        ),
        90,
        "config error",
    )
    assert url in member["stateDetail"]["configErrorDetail"]
    assert "could not be fetched" in member["stateDetail"]["configErrorDetail"]


def test_restarted_member_is_set_up_again(kubectl, namespace, operator, package_server):
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("rec", "recorder", {"a": 1, "b": 1}))
    before = members(wait_ready(kubectl, namespace, "rec"))
    pod = next(p for p, m in before.items() if m["role"] == "b")
    old_container = before[pod]["stateDetail"]["lastConfiguredContainer"]
    kubectl("delete", "pod", pod, "-n", namespace)
    wait_until(
        lambda: (
            members(status(kubectl, namespace, "rec"))[pod]["stateDetail"].get(
                "lastConfiguredContainer"
            )
            not in (None, old_container)
        ),
        90,
        "setup of the new container",
    )
    wait_ready(kubectl, namespace, "rec")
    assert calls(kubectl, namespace, pod) == ["--configure"], "a fresh container, set up again"


def test_connected_configmap_change_triggers_reconnect(
    kubectl, namespace, operator, package_server
):
    kubectl("create", "configmap", "settings", "-n", namespace, "--from-literal=level=1")
    kubectl("label", "configmap", "settings", "-n", namespace, "kubedirector.hpe.com/cmType=app")
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(
        kubectl, namespace, recorder_cluster("rec", "recorder", {"a": 1}, configmaps=["settings"])
    )
    pod = next(iter(members(wait_ready(kubectl, namespace, "rec"))))
    assert calls(kubectl, namespace, pod) == ["--configure"]
    patch(kubectl, namespace, "configmap/settings", {"data": {"level": "2"}})
    wait_until(lambda: "--reconnect" in calls(kubectl, namespace, pod), 60, "--reconnect")
    configmeta = guest_file(kubectl, namespace, pod, "/etc/guestconfig/configmeta.json")
    assert configmeta is not None
    meta = json.loads(configmeta)
    assert json.dumps(meta["connections"]["configmaps"]).count('"level": "2"') == 1


def test_hanging_setup_does_not_delay_another_cluster(kubectl, namespace, operator, package_server):
    apply(kubectl, namespace, recorder_app("hanging", f"{package_server}/recorder.tgz", "hang"))
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("stuck", "hanging", {"a": 1, "b": 2}))
    wait_until(
        lambda: any(
            "running for" in (m["stateDetail"].get("configErrorDetail") or "")
            for m in members(status(kubectl, namespace, "stuck")).values()
        ),
        60,
        "the hanging setup to be running",
    )
    started = time.monotonic()
    apply(kubectl, namespace, recorder_cluster("quick", "recorder", {"a": 1, "b": 1}))
    wait_ready(kubectl, namespace, "quick", timeout=60)
    took = time.monotonic() - started
    print(f"another cluster became Ready in {took:.1f}s while a setup hung")
    assert took < 30, f"took {took:.1f}s"
    assert status(kubectl, namespace, "stuck")["state"] == "creating"


def test_catalog_app_reaches_ready_with_its_setup_package(kubectl, namespace, operator):
    repo = Path(__file__).resolve().parents[2]
    kubectl("apply", "-n", namespace, "-f", str(repo / "manifests/catalog/spark221e2.yaml"))
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        str(repo / "manifests/examples/clusters/cr-cluster-spark221e2.yaml"),
    )
    st = wait_ready(kubectl, namespace, "spark221e2")
    assert st["memberSummary"] == "4/4"
    for pod in members(st):
        assert calls(kubectl, namespace, pod) == ["--configure"]


def test_configure_status_is_the_originals_record(kubectl, namespace, operator, package_server):
    """configure.status ends as `<container>=0`, no newline: what the original wrote
    and reads back after a restart (upstream-pods.md 2.3 step 10).  (The simulated
    kubelet reports no containerID, so the container is named by api.md's fallback.)"""
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    apply(kubectl, namespace, recorder_cluster("rec", "recorder", {"a": 1}))
    st = wait_ready(kubectl, namespace, "rec")
    ((pod, member),) = members(st).items()
    container = member["stateDetail"]["lastConfiguredContainer"]
    assert guest_file(kubectl, namespace, pod, "/opt/guestconfig/configure.status") == (
        f"{container}=0"
    )


def test_event_list_without_configure_skips_the_startscript(
    kubectl, namespace, operator, package_server
):
    """Role `b` lists only addnodes: it is configured without `--configure` (and no
    configure.status), yet still hears of new members; `a` lists nothing but
    configure, so it hears nothing."""
    app = recorder_app("picky", f"{package_server}/recorder.tgz")
    app["spec"]["roles"][0]["eventList"] = ["configure"]
    app["spec"]["roles"][1]["eventList"] = ["addnodes"]
    apply(kubectl, namespace, app)
    apply(kubectl, namespace, recorder_cluster("picky", "picky", {"a": 1, "b": 1}))
    st = wait_ready(kubectl, namespace, "picky")
    by_role = {m["role"]: pod for pod, m in members(st).items()}
    assert calls(kubectl, namespace, by_role["a"]) == ["--configure"]
    assert calls(kubectl, namespace, by_role["b"]) == []
    assert guest_file(kubectl, namespace, by_role["b"], "/opt/guestconfig/configure.status") is None
    assert (
        guest_file(kubectl, namespace, by_role["b"], "/opt/guestconfig/recorder/startscript")
        is not None
    ), "unpacked"
    set_workers(kubectl, namespace, "picky", 2)
    wait_until(lambda: len(members(status(kubectl, namespace, "picky"))) == 3, 60, "3 members")
    grown = wait_ready(kubectl, namespace, "picky")
    new = next(p for p in members(grown) if p not in members(st))
    wait_until(
        lambda: (
            fqdns(calls(kubectl, namespace, by_role["b"]), "addnodes", "b")
            == {fqdn(grown, namespace, new)}
        ),
        30,
        "b to hear of the new member",
    )
    assert calls(kubectl, namespace, by_role["a"]) == ["--configure"]


def test_systemd_app_waits_for_journald_and_its_pods_look_like_the_originals(
    kubectl, namespace, operator, package_server
):
    """The simulated node answers `systemctl status systemd-journald` (a stand-in);
    the member pod carries what the original's did."""
    app = recorder_app("sysd", f"{package_server}/recorder.tgz")
    app["spec"]["systemdRequired"] = True
    apply(kubectl, namespace, app)
    cluster = recorder_cluster("sysd", "sysd", {"a": 1})
    cluster["spec"]["roles"][0]["storage"] = {"size": "1Gi"}
    apply(kubectl, namespace, cluster)
    st = wait_ready(kubectl, namespace, "sysd")
    ((pod, _),) = members(st).items()
    assert "journald" in (guest_file(kubectl, namespace, pod, "/tmp/journald-status.out") or "")
    assert calls(kubectl, namespace, pod) == ["--configure"]
    spec = json.loads(kubectl("get", "pod", pod, "-n", namespace, "-o", "json").stdout)["spec"]
    assert spec["automountServiceAccountToken"] is False
    app_container = spec["containers"][0]
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in app_container["env"]
    hook = app_container["lifecycle"]["postStart"]["exec"]["command"]
    assert f"search {st['clusterService']}." in hook[2]
    mounts = [m["mountPath"] for m in app_container["volumeMounts"]]
    assert mounts[:4] == ["/etc", "/opt", "/usr", "/tmp"]
    assert {"/run", "/run/lock", "/sys/fs/cgroup", "/sys/fs/cgroup/systemd"} <= set(mounts)
    (init,) = spec["initContainers"]
    assert (init["name"], init["securityContext"]) == ("init", {"runAsUser": 0})
    assert "/mnt/etc/kubedirector.init" in init["args"][1]
