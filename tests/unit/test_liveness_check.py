"""An app role's `livenessCheck`: parsed with Kubernetes' probe defaults, refused
naming the field when malformed (parser, CRD schema, `kubedirector validate`), and
rendered as the app container's readinessProbe, never as a livenessProbe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubedirector.api.app import App, LivenessCheck
from kubedirector.api.errors import SpecError
from kubedirector.cli import main
from kubedirector.desired.diff import semantic_diff
from kubedirector.desired.statefulset import readiness_probe
from tests.crd_cases import CASSANDRA, COMPAT, load_docs
from tests.unit.kd_fixtures import spark_app, spark_cluster
from tests.unit.test_builders import container, statefulset
from tests.unit.test_crd_schemas import field_errors

COMMAND = ["/usr/local/bin/healthy", "--quick"]
INT32_MAX = 2**31 - 1
TIMINGS = {
    "initialDelaySeconds": 0,
    "periodSeconds": 1,
    "timeoutSeconds": 1,
    "failureThreshold": 1,
}  # field -> its minimum


def app_with(check: Any, role: int = 1) -> dict[str, Any]:
    doc = spark_app()
    doc["spec"]["roles"][role]["livenessCheck"] = check
    return doc


def errors_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        App.from_dict(doc)
    return [e.path for e in info.value.errors]


# ---- parsing -----------------------------------------------------------------------------


def test_unset_timings_are_kubernetes_probe_defaults():
    app = App.from_dict(app_with({"exec": {"command": COMMAND}}))
    assert app.roles[1].liveness_check == LivenessCheck(
        command=tuple(COMMAND),
        initial_delay_seconds=0,
        period_seconds=10,
        timeout_seconds=1,
        failure_threshold=3,
    )
    assert app.roles[0].liveness_check is None, "only the role that sets it"


def test_every_field_is_read():
    check = {
        "exec": {"command": COMMAND},
        "initialDelaySeconds": 30,
        "periodSeconds": 15,
        "timeoutSeconds": 5,
        "failureThreshold": 4,
    }
    assert App.from_dict(app_with(check)).roles[1].liveness_check == LivenessCheck(
        tuple(COMMAND), 30, 15, 5, 4
    )


R1 = "spec.roles[1].livenessCheck"


@pytest.mark.parametrize(
    ("check", "path"),
    [
        ("curl localhost", R1),
        ({}, f"{R1}.exec"),
        ({"exec": COMMAND}, f"{R1}.exec"),
        ({"exec": {}}, f"{R1}.exec.command"),
        ({"exec": {"command": []}}, f"{R1}.exec.command"),
        ({"exec": {"command": "healthy"}}, f"{R1}.exec.command"),
        ({"exec": {"command": ["", "-x"]}}, f"{R1}.exec.command[0]"),
        ({"exec": {"command": ["healthy", 3]}}, f"{R1}.exec.command[1]"),
        ({"exec": {"command": COMMAND}, "periodSeconds": 0}, f"{R1}.periodSeconds"),
        ({"exec": {"command": COMMAND}, "timeoutSeconds": -1}, f"{R1}.timeoutSeconds"),
        ({"exec": {"command": COMMAND}, "failureThreshold": "3"}, f"{R1}.failureThreshold"),
        ({"exec": {"command": COMMAND}, "initialDelaySeconds": -5}, f"{R1}.initialDelaySeconds"),
        ({"exec": {"command": COMMAND}, "periodSeconds": "10s"}, f"{R1}.periodSeconds"),
        ({"exec": {"command": COMMAND}, "periodSeconds": 1.5}, f"{R1}.periodSeconds"),
        ({"exec": {"command": COMMAND}, "periodSeconds": INT32_MAX + 1}, f"{R1}.periodSeconds"),
    ],
)
def test_malformed_check_names_the_field(check, path):
    assert errors_of(app_with(check)) == [path]


@settings(max_examples=120, deadline=None)
@given(field=st.sampled_from(sorted(TIMINGS)), value=st.integers(-(2**33), 2**33))
def test_timings_accepted_exactly_in_range(field: str, value: int):
    """Parser and CRD schema agree: from the field's minimum to the int32 maximum."""
    doc = app_with({"exec": {"command": COMMAND}, field: value})
    in_range = TIMINGS[field] <= value <= INT32_MAX
    try:
        App.from_dict(doc)
        parsed = True
    except SpecError as exc:
        assert [e.path for e in exc.errors] == [f"{R1}.{field}"]
        parsed = False
    assert parsed == in_range
    schema_doc = load_docs(COMPAT / CASSANDRA)[0]
    schema_doc["spec"]["roles"][0]["livenessCheck"] = {"exec": {"command": COMMAND}, field: value}
    expected = set() if in_range else {f"spec.roles[0].livenessCheck.{field}"}
    assert field_errors(schema_doc) == expected


# ---- the CRD schema ------------------------------------------------------------------------


def _schema_errors(check: Any) -> set[str]:
    doc = load_docs(COMPAT / CASSANDRA)[0]
    doc["spec"]["roles"][0]["livenessCheck"] = check
    return field_errors(doc)


def test_schema_accepts_a_full_check():
    check = {"exec": {"command": COMMAND}} | {k: 5 for k in TIMINGS}
    assert _schema_errors(check) == set()


@pytest.mark.parametrize(
    ("check", "field"),
    [
        ({"periodSeconds": 5}, "spec.roles[0].livenessCheck.exec"),
        ({"exec": {}}, "spec.roles[0].livenessCheck.exec.command"),
        ({"exec": {"command": []}}, "spec.roles[0].livenessCheck.exec.command"),
        ({"exec": {"command": COMMAND, "shell": True}}, "spec.roles[0].livenessCheck.exec.shell"),
        ({"exec": {"command": COMMAND}, "httpGet": {}}, "spec.roles[0].livenessCheck.httpGet"),
    ],
)
def test_schema_refuses_naming_the_field(check, field):
    assert _schema_errors(check) == {field}


# ---- `kubedirector validate` ---------------------------------------------------------------


def test_validate_names_the_check_field(tmp_path: Path, capsys):
    doc = app_with({"exec": {"command": [""]}, "timeoutSeconds": 0})
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{R1}.exec.command[0]: must not be empty" in out
    assert f"{R1}.timeoutSeconds: must be from 1 to {INT32_MAX}, not 0" in out


# ---- the pod ---------------------------------------------------------------------------------


def test_the_check_becomes_the_app_containers_readiness_probe():
    check = {"exec": {"command": COMMAND}, "initialDelaySeconds": 20, "periodSeconds": 7}
    app_container = container(statefulset("worker", app_with(check)))
    assert app_container["readinessProbe"] == {
        "exec": {"command": COMMAND},
        "initialDelaySeconds": 20,
        "periodSeconds": 7,
        "timeoutSeconds": 1,
        "failureThreshold": 3,
    }
    assert "livenessProbe" not in app_container, "the kubelet must not restart behind the policy"
    assert "startupProbe" not in app_container


def test_roles_without_a_check_get_no_probe():
    app_doc = app_with({"exec": {"command": COMMAND}})
    for role in ("controller", "jupyter"):
        assert "readinessProbe" not in container(statefulset(role, app_doc, spark_cluster()))


@given(
    command=st.lists(st.text(min_size=1), min_size=1, max_size=4),
    delay=st.integers(0, 600),
    period=st.integers(1, 600),
    timeout=st.integers(1, 600),
    threshold=st.integers(1, 20),
)
def test_a_stored_probe_is_converged(command, delay, period, timeout, threshold):
    """What the API server stores (its defaults added, a zero delay dropped) compares
    equal to the rendered probe, so a converged StatefulSet is never written again."""
    desired = readiness_probe(LivenessCheck(tuple(command), delay, period, timeout, threshold))
    stored = {
        "exec": {"command": list(command)},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": threshold,
        "successThreshold": 1,
    } | ({"initialDelaySeconds": delay} if delay else {})
    assert semantic_diff(desired, stored) == []
    assert semantic_diff(desired, stored | {"periodSeconds": period + 1}) == ["periodSeconds"]
