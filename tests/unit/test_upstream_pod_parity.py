"""Our StatefulSets against the ones the original operator made for the same app,
cluster and config (tests/compat/upstream-made, cases A, B, C), field by field.

The recorded objects went through the API server, which filled in defaults; those
are removed from the recorded side (SERVER_DEFAULTS) and fields the server omits
when empty are removed from ours, so what remains is what each operator asked for.
Every remaining difference must be in ALLOWED, each with its reason (they are the
deliberate differences docs/reference.md "Member pods" lists).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.desired import storage
from kubedirector.desired.statefulset import build_statefulset

CASES = Path(__file__).resolve().parents[1] / "compat" / "upstream-made"

# Paths (regular expressions over the flattened object) that the API server fills in
# when the writer leaves them out; neither operator sets them.
SERVER_DEFAULTS = [
    r"spec\.revisionHistoryLimit",
    r"spec\.updateStrategy\..*",
    r"spec\.persistentVolumeClaimRetentionPolicy\..*",
    r"spec\.template\.spec\.(dnsPolicy|restartPolicy|schedulerName|terminationGracePeriodSeconds)",
    r"spec\.template\.spec\.securityContext",
    r"spec\.template\.spec\.(containers|initContainers)\.\d+\.(imagePullPolicy"
    r"|terminationMessagePath|terminationMessagePolicy)",
    r"spec\.template\.spec\.volumes\.\d+\.hostPath\.type",
    r"spec\.volumeClaimTemplates\.\d+\.(apiVersion|kind|status\..*|spec\.volumeMode)",
]

# The differences we keep on purpose; each says why.
ALLOWED = {
    # Ours selects on cluster and role only: the original put every pod label,
    # role and global podLabels included, into the immutable selector, so they
    # could never change afterwards.
    r"spec\.selector\.matchLabels\.(?!kubedirector\.hpe\.com/(kdcluster|role)$).*": "selector",
    # Our claim templates carry the role's labels, so every PVC is found by its
    # cluster, app and role (the original's PVCs got only the selector's copy).
    r"spec\.volumeClaimTemplates\.\d+\.metadata\.labels\..*": "claim labels",
    # The init script recognises the marker our earlier releases left on a volume
    # (one leading clause); the rest of the text is the original's.
    r"spec\.template\.spec\.initContainers\.0\.args\.1": "init script prefix",
}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out |= _flatten(item, f"{prefix}.{i}")
        return out or {prefix: []}
    return {prefix: value}


def _omitted_when_empty(value: Any) -> bool:
    """What the API server drops from a write: null, false, empty lists and maps."""
    return value is None or value is False or value == [] or value == {}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _recorded(case: str) -> list[dict[str, Any]]:
    return _load(CASES / case / "statefulsets.yaml")["items"]


def _inputs(case: str) -> tuple[App, Cluster, Config]:
    configs = _load(CASES / case / "kubedirectorconfig.yaml")["items"]
    config = Config.from_dict(configs[0] if configs else None)
    app = App.from_dict(_load(CASES / case / "kubedirectorapp.yaml"))
    cluster = Cluster.from_dict(_load(CASES / case / "kubedirectorcluster.yaml"), config, app)
    return app, cluster, config


def _rendered(case: str, recorded: dict[str, Any]) -> dict[str, Any]:
    app, cluster, config = _inputs(case)
    role = recorded["metadata"]["labels"]["kubedirector.hpe.com/role"]
    return build_statefulset(
        app,
        cluster,
        config,
        role_id=role,
        name=recorded["metadata"]["name"],
        headless_service=recorded["spec"]["serviceName"],
        replicas=recorded["spec"]["replicas"],
    )


def _compared(obj: dict[str, Any]) -> dict[str, Any]:
    """The parts an operator chooses: spec, and its labels and annotations."""
    meta = {k: obj["metadata"][k] for k in ("labels", "annotations") if k in obj["metadata"]}
    flat = _flatten({"metadata": meta, "spec": obj["spec"]})
    return {k: v for k, v in flat.items() if not _omitted_when_empty(v)}


def differences(case: str, recorded: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """path -> (ours, original) for every field that differs, server defaults aside."""
    theirs = {
        k: v
        for k, v in _compared(recorded).items()
        if not any(re.fullmatch(p, k) for p in SERVER_DEFAULTS)
    }
    ours = _compared(_rendered(case, recorded))
    return {
        k: (ours.get(k), theirs.get(k))
        for k in sorted(ours.keys() | theirs.keys())
        if ours.get(k) != theirs.get(k)
    }


CASE_ROLES = [(case, i) for case in ("A", "B", "C") for i in range(len(_recorded(case)))]


@pytest.mark.parametrize(("case", "index"), CASE_ROLES)
def test_statefulset_matches_the_originals(case: str, index: int) -> None:
    recorded = _recorded(case)[index]
    unexplained = {
        path: diff
        for path, diff in differences(case, recorded).items()
        if not any(re.fullmatch(p, path) for p in ALLOWED)
    }
    assert unexplained == {}


def test_cases_cover_storage_systemd_capabilities_and_global_labels() -> None:
    """The comparison above means something only if the cases exercise these."""
    specs = [s["spec"]["template"] for case in ("A", "B", "C") for s in _recorded(case)]
    assert any(t["spec"].get("initContainers") for t in specs)
    assert any(
        c.get("securityContext", {}).get("capabilities")
        for t in specs
        for c in t["spec"]["containers"]
    )
    assert any("global-pod-label" in t["metadata"]["labels"] for t in specs)


def test_the_init_script_differs_only_by_its_leading_clause() -> None:
    for recorded in _recorded("A"):
        if not recorded["spec"]["template"]["spec"].get("initContainers"):
            continue
        ours, theirs = differences("A", recorded)["spec.template.spec.initContainers.0.args.1"]
        prefix = (
            f"[ -f {storage.PREVIOUS_INIT_MARKER} ] && mkdir -p /mnt/etc && "
            f"touch {storage.INIT_MARKER}; "
        )
        assert ours == prefix + theirs
        return
    pytest.fail("case A has no StatefulSet with storage")


def test_a_real_difference_is_caught() -> None:
    """The comparison is not vacuous: a changed env is reported."""
    recorded = _recorded("A")[0]
    env = recorded["spec"]["template"]["spec"]["containers"][0]["env"]
    changed = {**recorded}
    changed["spec"] = {**recorded["spec"], "template": {**recorded["spec"]["template"]}}
    changed["spec"]["template"]["spec"] = {
        **recorded["spec"]["template"]["spec"],
        "containers": [{**recorded["spec"]["template"]["spec"]["containers"][0], "env": env[:-1]}],
    }
    assert differences("A", changed)
