"""The user commands' offline parts: validate, render, the scale patch, the status report,
and how the namespace is chosen."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.status import MemberStateDetail
from kubedirector.cli import main
from kubedirector.clientconfig import context_namespace
from kubedirector.cmd_render import render_documents
from kubedirector.cmd_scale import ScaleError, scale_patch
from kubedirector.cmd_status import format_status, member_detail
from kubedirector.desired.statefulset import build_statefulset
from tests.unit.kd_fixtures import spark_app, spark_cluster

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "manifests" / "catalog"
EXAMPLES = REPO / "manifests" / "examples"


def write(tmp_path: Path, name: str, *docs: Any) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- validate ----------------------------------------------------------------------------


def test_validate_catalog_and_examples_are_valid(capsys):
    code, out, _ = run(
        capsys, "validate", str(CATALOG), str(EXAMPLES / "clusters"), str(EXAMPLES / "config")
    )
    assert code == 0, out
    assert out.splitlines()[-1].endswith(" checked, 0 errors")
    assert "manifests/examples/clusters/cr-cluster-spark221e2.yaml: " in out
    assert "KubeDirectorCluster/spark221e2: valid" in out


def test_validate_names_each_field_and_fails(tmp_path, capsys):
    cluster = spark_cluster()
    cluster["spec"]["roles"][0]["members"] = 3  # cardinality 1
    cluster["spec"]["roles"][1]["disruptionBudget"] = {"maxUnavailable": "120%"}
    app = spark_app()
    path = write(tmp_path, "both.yaml", app, cluster)
    code, out, _ = run(capsys, "validate", path)
    assert code == 1
    assert f"{path}[0]: KubeDirectorApp/spark221e2: valid" in out
    assert (
        f"{path}[1]: KubeDirectorCluster/spark221e2: spec.roles[0].members: 3 members do not "
        "fit the cardinality '1'"
    ) in out
    assert f"{path}[1]: KubeDirectorCluster/spark221e2: spec.roles[1].disruptionBudget." in out
    assert out.splitlines()[-1] == "2 checked, 2 errors"


def test_validate_bad_app_and_json_list(tmp_path, capsys):
    app = spark_app()
    app["spec"]["roles"][0]["cardinality"] = "many"
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [app]}))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert "KubeDirectorApp/spark221e2: spec.roles[0].cardinality" in out


def test_validate_cluster_without_its_app(tmp_path, capsys):
    code, out, _ = run(capsys, "validate", write(tmp_path, "c.yaml", spark_cluster()))
    assert code == 1
    assert "spec.app: app 'spark221e2' is not among the files given" in out


def test_validate_skips_other_kinds_and_reports_unreadable_input(tmp_path, capsys):
    other = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    code, out, _ = run(capsys, "validate", write(tmp_path, "ns.yaml", other, spark_app()))
    assert code == 0
    assert "v1/Namespace" not in out and "Namespace/x: skipped" in out
    (tmp_path / "broken.yaml").write_text("a: [")
    code, _, err = run(capsys, "validate", str(tmp_path / "broken.yaml"))
    assert code == 1 and "broken.yaml: cannot parse" in err
    code, _, err = run(capsys, "validate", str(tmp_path / "missing.yaml"))
    assert code == 1 and "missing.yaml: no such file" in err


def test_validate_config_must_be_in_the_operator_namespace(tmp_path, capsys):
    config = yaml.safe_load((EXAMPLES / "config" / "kd-global-config.yaml").read_text())
    config["metadata"]["namespace"] = "elsewhere"
    code, out, _ = run(capsys, "validate", write(tmp_path, "cfg.yaml", config))
    assert code == 1 and "metadata.namespace: must be the operator's namespace" in out


# ---- render ------------------------------------------------------------------------------


def rendered(app: dict, cluster: dict, tmp_path: Path) -> list[dict[str, Any]]:
    return render_documents(
        write(tmp_path, "app.yaml", app), write(tmp_path, "c.yaml", cluster), None, "ns1"
    )


def test_render_prints_what_the_builders_make(tmp_path, capsys):
    cluster = spark_cluster()
    cluster["spec"]["roles"][1]["storage"] = {"size": "1Gi", "storageClassName": "fast"}
    app_path, cluster_path = (
        write(tmp_path, "a.yaml", spark_app()),
        write(tmp_path, "c.yaml", cluster),
    )
    code, out, _ = run(capsys, "render", app_path, cluster_path)
    assert code == 0
    objects = list(yaml.safe_load_all(out))
    assert "&id" not in out
    kinds = [o["kind"] for o in objects]
    assert kinds.count("StatefulSet") == 3
    assert kinds.count("PodDisruptionBudget") == 1  # only the two-member role
    assert kinds.count("PersistentVolumeClaim") == 2
    assert kinds.count("Service") == 1 + 4  # headless + one per member
    (worker,) = [
        o for o in objects if o["kind"] == "StatefulSet" and "-worker-" in o["metadata"]["name"]
    ]
    name = worker["metadata"]["name"]
    assert worker["spec"]["replicas"] == 2
    # Exactly what the reconciler's builder makes for that name.
    app = App.from_dict(spark_app())
    parsed = Cluster.from_dict(cluster, Config(), app)
    headless = next(
        o for o in objects if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None"
    )
    assert worker == build_statefulset(
        app,
        parsed,
        Config(),
        role_id="worker",
        name=name,
        headless_service=headless["metadata"]["name"],
        replicas=2,
    )
    claims = sorted(o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim")
    assert claims == [f"p-{name}-0", f"p-{name}-1"]
    (pdb,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert pdb["metadata"]["name"] == name and pdb["spec"]["maxUnavailable"] == 1
    assert run(capsys, "render", app_path, cluster_path)[1] == out, "repeatable"


def test_render_uses_the_namespace_and_uid_naming(tmp_path):
    cluster = spark_cluster()
    del cluster["metadata"]["namespace"]
    cluster["spec"]["namingScheme"] = "UID"
    objects = rendered(spark_app(), cluster, tmp_path)
    assert {o["metadata"]["namespace"] for o in objects} == {"ns1"}
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"]
    assert len(set(names)) == 3 and all(n.startswith("kdss-") for n in names)


def test_render_refuses_what_admission_would(tmp_path, capsys):
    cluster = spark_cluster()
    cluster["spec"]["roles"][0]["id"] = "driver"
    code, out, err = run(
        capsys, "render", write(tmp_path, "a.yaml", spark_app()), write(tmp_path, "c.yaml", cluster)
    )
    assert code == 1 and out == ""
    assert "spec.roles[0].id: role 'driver' is not a role of app 'spark221e2'" in err
    code, _, err = run(
        capsys, "render", write(tmp_path, "x.yaml", cluster), write(tmp_path, "y.yaml", cluster)
    )
    assert code == 1 and "expected one KubeDirectorApp, found 0" in err


# ---- scale -------------------------------------------------------------------------------


@given(
    ids=st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=1, unique=True),
    data=st.data(),
    members=st.integers(min_value=0, max_value=1000),
)
def test_scale_patch_tests_the_role_at_its_index(ids, data, members):
    cluster = {"metadata": {"name": "c"}, "spec": {"roles": [{"id": i} for i in ids]}}
    role = data.draw(st.sampled_from(ids))
    index = ids.index(role)
    assert scale_patch(cluster, role, members) == [
        {"op": "test", "path": f"/spec/roles/{index}/id", "value": role},
        {"op": "add", "path": f"/spec/roles/{index}/members", "value": members},
    ]


def test_scale_patch_unknown_role_names_the_roles():
    with pytest.raises(
        ScaleError, match=r"no role 'nope' \(its roles: controller, worker, jupyter\)"
    ):
        scale_patch(spark_cluster(), "nope", 1)


def test_scale_refuses_a_negative_count(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["scale", "c", "worker", "-1"])
    assert exc.value.code == 2
    assert "must be at least 0, got -1" in capsys.readouterr().err


# ---- status ------------------------------------------------------------------------------


def member(pod: str, node: int, state: str, **detail: Any) -> dict[str, Any]:
    return {"pod": pod, "service": pod, "nodeID": node, "state": state, "stateDetail": detail}


def test_status_table_and_setup_output():
    cluster = spark_cluster()
    cluster["status"] = {
        "state": "configured",
        "memberSummary": "2/3",
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "MembersNotReady",
                "message": "1 member in config error",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            },
            {
                "type": "Degraded",
                "status": "True",
                "reason": "ConfigError",
                "message": "w-1: setup failed",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            },
        ],
        "roles": [
            {"id": "controller", "statefulSet": "c", "members": [member("c-0", 1, "configured")]},
            {
                "id": "worker",
                "statefulSet": "w",
                "members": [
                    member("w-0", 2, "configured", startScriptStdoutMessage="ok\nconfigured\n"),
                    member(
                        "w-1",
                        3,
                        "config error",
                        configErrorDetail="exited with status 1",
                        startScriptStderrMessage="boom",
                    ),
                ],
            },
            {"id": "jupyter", "statefulSet": "j", "members": []},
        ],
    }
    report = format_status(cluster).splitlines()
    assert report[0] == "kdcluster/spark221e2 (app spark221e2)  state: configured  members: 2/3"
    assert report[1] == "conditions: Ready=False  Degraded=True"
    assert "  Degraded (ConfigError): w-1: setup failed" in report
    assert "  not Ready (MembersNotReady): 1 member in config error" in report
    table = report[report.index("") + 1 :]
    assert table[0].split() == ["ROLE", "MEMBER", "NODE", "STATE", "DETAIL"]
    assert table[1].split() == ["controller", "c-0", "1", "configured"]
    assert table[3].split() == [
        "worker",
        "w-1",
        "3",
        "config",
        "error",
        "exited",
        "with",
        "status",
        "1",
    ]
    assert table[4].split() == ["jupyter", "-", "-", "no", "members"]
    column = table[0].index("STATE")  # columns line up
    assert [row[column:].split()[0] for row in table[1:5]] == ["configured"] * 2 + ["config", "no"]
    output = report[report.index("last setup output:") + 1 :]
    assert output == ["  w-0 (stdout):", "    ok", "    configured", "  w-1 (stderr):", "    boom"]


def test_status_of_a_cluster_not_reconciled_yet():
    report = format_status(spark_cluster())
    assert "state: not reconciled yet  members: -" in report
    assert report.rstrip().endswith("no members yet")


# ---- namespace ---------------------------------------------------------------------------


def kubeconfig(tmp_path: Path, namespace: str | None) -> str:
    context: dict[str, Any] = {"cluster": "c", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    path = tmp_path / f"kubeconfig-{namespace}"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "ctx",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "ctx", "context": context}],
            }
        )
    )
    return str(path)


def test_namespace_from_the_current_context_else_default(tmp_path):
    assert context_namespace(kubeconfig(tmp_path, "team-a")) == "team-a"
    assert context_namespace(kubeconfig(tmp_path, None)) == "default"


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "team-a", "--kubeconfig", "/k", "status", "c"],
        ["status", "c", "-n", "team-a", "--kubeconfig", "/k"],
        ["--kubeconfig", "/k", "status", "-n", "team-a", "c"],
    ],
)
def test_cluster_options_before_or_after_the_command(argv, monkeypatch):
    seen: dict[str, object] = {}

    def fake_status(name, *, kubeconfig, namespace, out, err):
        seen.update(name=name, kubeconfig=kubeconfig, namespace=namespace)
        return 0

    monkeypatch.setattr("kubedirector.cmd_status.run_status", fake_status)
    assert main(argv) == 0
    assert seen == {"name": "c", "kubeconfig": "/k", "namespace": "team-a"}


def test_run_takes_its_options_after_the_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["-n", "x", "run"])
    assert exc.value.code == 2
    assert "`run` takes --kubeconfig and --namespace after the command" in capsys.readouterr().err


def test_status_detail_names_an_unresponsive_member():
    detail = MemberStateDetail(
        unresponsive="pod not Ready since 2026-01-01T00:00:00Z (more than 60s)"
    )
    assert member_detail(detail) == (
        "unresponsive: pod not Ready since 2026-01-01T00:00:00Z (more than 60s)"
    )
