"""The floor's exec gate (hack/bench_floor.py): a member's setup starts once, only when
both its container runs and its kwok Exec exists, in whichever order they were seen."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

HACK = Path(__file__).resolve().parents[2] / "hack"
if str(HACK) not in sys.path:  # bench_floor imports its siblings (benchlib, simkubelet)
    sys.path.insert(0, str(HACK))

from bench_floor import ExecGate  # noqa: E402

pytestmark = pytest.mark.unit

EVENT = st.tuples(st.sampled_from(["pod", "exec"]), st.sampled_from(["a", "b", "c"]))


def test_running_pod_waits_for_its_exec() -> None:
    gate: ExecGate[str] = ExecGate()
    assert gate.pod_running("ns/p/1", "first") is None
    assert gate.pod_running("ns/p/1", "update") is None
    assert gate.exec_ready("ns/p/1") == "update"
    assert gate.exec_ready("ns/p/1") is None
    assert gate.pod_running("ns/p/1", "later") is None


def test_exec_first_then_pod_starts_at_once() -> None:
    gate: ExecGate[str] = ExecGate()
    assert gate.exec_ready("ns/p/1") is None
    assert gate.pod_running("ns/p/1", "pod") == "pod"
    assert gate.pod_running("ns/p/1", "pod again") is None


def test_exec_of_another_pod_uid_opens_nothing() -> None:
    gate: ExecGate[str] = ExecGate()
    assert gate.pod_running("ns/p/2", "new pod") is None
    assert gate.exec_ready("ns/p/1") is None
    assert gate.exec_ready("ns/p/2") == "new pod"


@given(st.lists(EVENT, max_size=30))
def test_each_key_released_once_exactly_when_both_seen(events: list[tuple[str, str]]) -> None:
    gate: ExecGate[tuple[str, int]] = ExecGate()
    released: list[str] = []
    for i, (kind, key) in enumerate(events):
        out = gate.pod_running(key, (key, i)) if kind == "pod" else gate.exec_ready(key)
        if out is not None:
            assert out[0] == key
            released.append(key)
    both = {k for k in "abc" if ("pod", k) in events and ("exec", k) in events}
    assert sorted(released) == sorted(both)
