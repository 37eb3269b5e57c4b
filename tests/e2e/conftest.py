"""Fixtures for end-to-end tests that need the operator running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LocalCluster
from tests.e2e.support.operator import Operator, start_operator


@pytest.fixture
def operator(
    local_cluster: LocalCluster, kubectl, namespace: str, tmp_path: Path
) -> Iterator[Operator]:
    """An operator for the test namespace; at the end it deletes the namespace's clusters
    (through their finalizer) before it stops, so the namespace can go."""
    op = start_operator(
        local_cluster.kubeconfig,
        namespace,
        tmp_path / "operator.log",
        "--no-leader-elect",
        "--workers",
        "2",
    )
    yield op
    if op.proc.poll() is not None:
        op = start_operator(
            local_cluster.kubeconfig, namespace, tmp_path / "final.log", "--no-leader-elect"
        )
    kubectl("delete", "kdcluster", "--all", "-n", namespace, "--timeout=60s", timeout=90)
    op.stop()
