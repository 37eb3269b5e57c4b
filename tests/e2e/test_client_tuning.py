"""The operator's client-side rate limit and debug endpoint in a running operator: every
API request it makes waits on the token bucket (a tight limit makes the start-up lists
wait, and still converges), and /debug/threads shows its threads."""

from __future__ import annotations

import urllib.request

from tests.e2e.support.operator import free_port, start_operator, wait_until


def test_every_request_passes_the_rate_limiter_and_threads_can_be_dumped(
    local_cluster, namespace, tmp_path
):
    debug_port = free_port()
    operator = start_operator(
        local_cluster.kubeconfig,
        namespace,
        tmp_path / "operator.log",
        "--kube-api-qps",
        "5",
        "--kube-api-burst",
        "2",
        "--debug-address",
        f"127.0.0.1:{debug_port}",
    )
    try:
        wait_until(lambda: operator.get("/readyz")[0] == 200, 60, "ready despite the limit")
        wait_until(lambda: operator.metric("leader_election_master_status") == 1, 60, "leader")
        requests = operator.metric("rest_client_requests_total")
        limited = operator.metric("rest_client_rate_limiter_duration_seconds_count")
        # the limiter counts a request when it starts waiting, the client when it is
        # answered: a few may be in between, but none may bypass the limiter
        assert requests <= limited <= requests + 10, (requests, limited)
        assert requests >= 8  # the informers' lists and watches, the Lease
        assert operator.metric("rest_client_rate_limiter_duration_seconds_sum") > 0.2

        with urllib.request.urlopen(
            f"http://127.0.0.1:{debug_port}/debug/threads", timeout=10
        ) as r:
            dump = r.read().decode()
        assert 'thread "leader-election"' in dump
        assert 'thread "kubedirectorcluster-worker-0"' in dump
        assert 'thread "health-server"' in dump
        assert operator.get("/debug/threads")[0] == 404  # not on the metrics port
    finally:
        operator.stop()
