"""hack/simkubelet.py's event dispatch: every event handled, one object's in order."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

HACK = Path(__file__).resolve().parents[2] / "hack"
if str(HACK) not in sys.path:
    sys.path.insert(0, str(HACK))

from simkubelet import Sharded  # noqa: E402

pytestmark = pytest.mark.unit


def test_every_event_handled_and_each_objects_in_order() -> None:
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def handle(kind: str, obj: dict) -> None:
        if obj["metadata"]["name"] == "bad":
            raise OSError("disk full")
        with lock:
            seen.append((obj["metadata"]["name"], kind))

    sharded = Sharded(handle, 4)
    stop = threading.Event()
    for t in sharded.threads(stop):
        t.start()
    kinds = ["ADDED", "MODIFIED", "DELETED", "ADDED"]
    sharded("ADDED", {"metadata": {"namespace": "ns", "name": "bad"}})
    for kind in kinds:
        for i in range(20):
            sharded(kind, {"metadata": {"namespace": "ns", "name": f"p{i}"}})
    deadline = time.monotonic() + 10
    while len(seen) < 80 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    assert len(seen) == 80  # the failing one did not stop its worker
    for i in range(20):
        assert [k for name, k in seen if name == f"p{i}"] == kinds
