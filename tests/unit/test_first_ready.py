"""The time from a cluster's creation to its first Ready: measured once, only for a
cluster seen creating, never for one that was Ready before."""

from __future__ import annotations

from kubedirector.api.status import ClusterStatus, Condition
from kubedirector.reconcilers.cluster.first_ready import FirstReady

META = {"creationTimestamp": "2026-11-30T07:00:00Z"}
NOW = "2026-11-30T07:02:30Z"


def status(state: str, ready: bool) -> ClusterStatus:
    cond = Condition(
        type="Ready",
        status="True" if ready else "False",
        reason="r",
        message="m",
        last_transition_time=NOW,
        observed_generation=1,
    )
    return ClusterStatus(state=state, conditions=(cond,))


def test_measured_once_from_creation():
    first = FirstReady()
    assert first.passed("ns/c", META, ClusterStatus(), status("creating", False), NOW) is None
    took = first.passed("ns/c", META, status("creating", False), status("configured", True), NOW)
    assert took == 150.0
    # Not Ready for a while, then Ready again: not a creation.
    assert (
        first.passed("ns/c", META, status("configured", True), status("updating", False), NOW)
        is None
    )
    assert (
        first.passed("ns/c", META, status("updating", False), status("configured", True), NOW)
        is None
    )


def test_ready_a_pass_after_configured_still_counts():
    first = FirstReady()
    first.passed("ns/c", META, status("creating", False), status("configured", False), NOW)
    took = first.passed("ns/c", META, status("configured", False), status("configured", True), NOW)
    assert took == 150.0


def test_a_cluster_first_seen_configured_is_not_measured():
    """After an operator restart, a cluster already past creation is not a creation."""
    first = FirstReady()
    assert (
        first.passed("ns/c", META, status("updating", False), status("configured", True), NOW)
        is None
    )


def test_forgotten_with_the_cluster():
    first = FirstReady()
    first.passed("ns/c", META, status("creating", False), status("creating", False), NOW)
    first.forget("ns/c")
    assert (
        first.passed("ns/c", META, status("configured", False), status("configured", True), NOW)
        is None
    )
