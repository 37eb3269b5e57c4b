"""GuestExecutor: exit codes from the exec status channel, scripts that must end with exit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes.client import Configuration
from websocket import WebSocketConnectionClosedException

from kubedirector.controller.ratelimiter import BucketRateLimiter
from kubedirector.kube import InstrumentedApiClient
from kubedirector.setup import executor
from kubedirector.setup.executor import ExecError, ExecResult, GuestExecutor, _exit_code
from tests.e2e.support import tcpproxy


def status_doc(**fields: Any) -> str:
    return json.dumps({"metadata": {}, **fields})


def exit_status(code: str) -> str:
    return status_doc(
        status="Failure",
        message=f"command terminated with non-zero exit code: exit status {code}",
        reason="NonZeroExitCode",
        details={"causes": [{"reason": "ExitCode", "message": code}]},
    )


# ---------------------------------------------------------------- _exit_code


def test_success_is_zero() -> None:
    assert _exit_code(status_doc(status="Success")) == 0


@pytest.mark.parametrize(("code", "expected"), [("3", 3), ("1", 1), ("137", 137), ("255", 255)])
def test_failure_with_an_exit_code_cause(code: str, expected: int) -> None:
    assert _exit_code(exit_status(code)) == expected


def test_exit_code_cause_among_others() -> None:
    doc = status_doc(
        status="Failure",
        details={
            "causes": [{"reason": "Other", "message": "1"}, {"reason": "ExitCode", "message": "42"}]
        },
    )
    assert _exit_code(doc) == 42


def test_status_in_yaml_form() -> None:
    """The channel carries JSON, which is YAML; a YAML rendering parses the same."""
    doc = "status: Failure\ndetails:\n  causes:\n  - reason: ExitCode\n    message: '9'\n"
    assert _exit_code(doc) == 9


@pytest.mark.parametrize(
    "doc",
    [
        status_doc(status="Failure", message='container not found ("app")', reason="BadRequest"),
        status_doc(status="Failure", message="pod is gone", details={"causes": []}),
        status_doc(
            status="Failure",
            message="pod is gone",
            details={"causes": [{"reason": "Other", "message": "3"}]},
        ),
    ],
)
def test_failure_without_an_exit_code_raises(doc: str) -> None:
    with pytest.raises(ExecError, match=r"not found|pod is gone"):
        _exit_code(doc)


def test_failure_without_a_message_raises_a_generic_error() -> None:
    with pytest.raises(ExecError, match="the exec failed"):
        _exit_code(status_doc(status="Failure"))


@pytest.mark.parametrize("doc", ["", "[1, 2]", "just text", "{unclosed: [", "null"])
def test_no_status_document_raises(doc: str) -> None:
    with pytest.raises(ExecError, match="without a status"):
        _exit_code(doc)


@pytest.mark.parametrize(
    "doc",
    [
        exit_status("three"),
        exit_status(""),
        status_doc(status="Failure", details={"causes": [{"reason": "ExitCode"}]}),
        status_doc(status="Failure", message="odd", details="not a mapping"),
        status_doc(status="Failure", message="odd", details={"causes": "not a list"}),
        status_doc(status="Failure", message="odd", details={"causes": ["not a mapping"]}),
    ],
)
def test_malformed_status_raises_exec_error_only(doc: str) -> None:
    with pytest.raises(ExecError):
        _exit_code(doc)


# ---------------------------------------------------------------- GuestExecutor.run


class FakeWSClient:
    """Stands in for kubernetes.stream.ws_client.WSClient: a scripted exec."""

    instances: list[FakeWSClient] = []

    def __init__(
        self, configuration: Configuration, url: str, headers: dict[str, str], capture_all: bool
    ) -> None:
        self.url = url
        self.headers = headers
        self.written: list[str] = []
        self.closed = False
        self.open = True
        self.updates = 0
        FakeWSClient.instances.append(self)

    # what a test sets up
    hang = False
    stdout = "out\n"
    stderr = ""
    status = status_doc(status="Success")

    def write_stdin(self, data: str) -> None:
        self.written.append(data)

    def is_open(self) -> bool:
        return self.open

    def update(self, timeout: float = 0) -> None:
        self.updates += 1
        if not self.hang:
            self.open = False

    def read_stdout(self) -> str:
        return self.stdout

    def read_stderr(self) -> str:
        return self.stderr

    def read_channel(self, channel: int) -> str:
        assert channel == executor.ERROR_CHANNEL
        return self.status

    def close(self) -> None:
        self.closed = True


def use_client(monkeypatch: pytest.MonkeyPatch, factory: Callable[..., object]) -> None:
    """Make the executor's connect() hand out `factory(configuration, url, headers, True)`."""

    def connect(
        configuration: Configuration, url: str, headers: dict[str, str], timeout: float
    ) -> object:
        assert 0 < timeout <= executor.HANDSHAKE_TIMEOUT
        return factory(configuration, url, headers, True)

    monkeypatch.setattr(executor, "connect", connect)


@pytest.fixture
def fake_ws(monkeypatch: pytest.MonkeyPatch) -> type[FakeWSClient]:
    FakeWSClient.instances = []
    use_client(monkeypatch, FakeWSClient)
    return FakeWSClient


def guest_executor() -> GuestExecutor:
    configuration = Configuration()
    configuration.host = "https://127.0.0.1:6443"
    configuration.api_key = {"BearerToken": "Bearer abc"}  # as kube_config stores it
    return GuestExecutor(configuration)


@pytest.mark.parametrize(
    "script",
    [
        "echo hi\n",
        "echo exit\n",
        "exit 0\necho after\n",
        "# exit\n",
        "exit_code=1\n",
        "",
    ],
)
def test_run_refuses_a_script_not_ending_with_exit(
    fake_ws: type[FakeWSClient], script: str
) -> None:
    with pytest.raises(ValueError, match="must end with an explicit exit"):
        guest_executor().run("ns", "pod-0", script)
    assert fake_ws.instances == []


@pytest.mark.parametrize(
    "script",
    [
        "echo hi\nexit 0\n",
        "exit",
        "echo a; exit 3",
        "exit $?\n\n",
        "  exit 1 # done\n",
    ],
)
def test_run_sends_a_script_ending_with_exit(fake_ws: type[FakeWSClient], script: str) -> None:
    result = guest_executor().run("ns", "pod-0", script)
    assert result == ExecResult(0, "out\n", "")
    (client,) = fake_ws.instances
    assert client.written == [script if script.endswith("\n") else script + "\n"]
    assert client.closed
    assert "/api/v1/namespaces/ns/pods/pod-0/exec?" in client.url
    assert client.url.startswith("wss://127.0.0.1:6443")
    assert "command=bash&command=-s&container=app&stdin=true" in client.url
    assert client.headers == {"authorization": "Bearer abc"}


def test_run_returns_the_exit_code_and_streams(
    fake_ws: type[FakeWSClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeWSClient, "stdout", "")
    monkeypatch.setattr(FakeWSClient, "stderr", "boom\n")
    monkeypatch.setattr(FakeWSClient, "status", exit_status("95"))
    result = guest_executor().run("ns", "pod-0", "exit 95\n", container="init")
    assert result == ExecResult(95, "", "boom\n")
    assert "container=init" in fake_ws.instances[0].url


def test_run_times_out_and_closes(
    fake_ws: type[FakeWSClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeWSClient, "hang", True)
    with pytest.raises(ExecError, match="timed out"):
        guest_executor().run("ns", "pod-0", "sleep 100; exit 0\n", timeout=0.05)
    (client,) = fake_ws.instances
    assert client.closed and client.updates >= 1


def test_run_without_status_raises(
    fake_ws: type[FakeWSClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeWSClient, "status", "")
    with pytest.raises(ExecError, match="without a status"):
        guest_executor().run("ns", "pod-0", "exit 0\n")
    assert fake_ws.instances[0].closed


def test_run_wraps_connection_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise ConnectionRefusedError("connection refused")

    use_client(monkeypatch, refuse)
    with pytest.raises(ExecError, match="exec into ns/pod-0 failed: connection refused"):
        guest_executor().run("ns", "pod-0", "exit 0\n")


class ClosingWSClient(FakeWSClient):
    """The server's close arrives before the client answers it (a close race)."""

    def update(self, timeout: float = 0) -> None:
        raise WebSocketConnectionClosedException("socket is already closed")


def test_a_close_race_after_the_status_still_gives_the_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_client(monkeypatch, ClosingWSClient)
    monkeypatch.setattr(ClosingWSClient, "status", status_doc(status="Success"))
    assert guest_executor().run("ns", "pod-0", "exit 0\n").exit_code == 0


def test_a_connection_lost_before_any_status_is_an_exec_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_client(monkeypatch, ClosingWSClient)
    monkeypatch.setattr(ClosingWSClient, "status", "")
    with pytest.raises(ExecError, match="connection lost"):
        guest_executor().run("ns", "pod-0", "exit 0\n")


def test_the_bearer_token_of_a_kubeconfig_or_service_account_is_sent(
    fake_ws: type[FakeWSClient],
) -> None:
    """kubernetes>=36 keeps the token under 'BearerToken' (kube_config, in-cluster)."""
    configuration = Configuration()
    configuration.host = "https://127.0.0.1:6443"
    configuration.api_key = {"BearerToken": "Bearer sa-token"}
    GuestExecutor(configuration).run("ns", "pod-0", "exit 0\n")
    assert fake_ws.instances[-1].headers == {"authorization": "Bearer sa-token"}


def test_no_token_sends_no_authorization_header(fake_ws: type[FakeWSClient]) -> None:
    configuration = Configuration()
    configuration.host = "https://127.0.0.1:6443"
    GuestExecutor(configuration).run("ns", "pod-0", "exit 0\n")
    assert fake_ws.instances[-1].headers == {}


# ---------------------------------------------------------------- the handshake is bounded


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A hung handshake: a server that accepts connections and never answers."""
    with tcpproxy.silent_server() as port:
        yield port


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_handshake_that_never_completes_times_out(silent_server: int, scheme: str) -> None:
    configuration = Configuration()
    configuration.host = f"{scheme}://127.0.0.1:{silent_server}"
    configuration.verify_ssl = False
    guest = GuestExecutor(configuration, handshake_timeout=0.5)
    began = time.monotonic()
    with pytest.raises(ExecError, match="exec into ns/pod-0 failed"):
        guest.run("ns", "pod-0", "exit 0\n", timeout=60)
    assert time.monotonic() - began < 10  # the handshake's bound, not the exec's 60 s


def test_each_exec_waits_for_the_client_rate_limiter(fake_ws: type[FakeWSClient]) -> None:
    """An exec opens its own websocket, so it takes its turn at the API client's limiter
    (`--kube-api-qps`) before connecting, like every other request."""
    waits: list[tuple[str, str, int]] = []
    configuration = Configuration()
    configuration.host = "https://127.0.0.1:6443"

    def throttle(verb: str, host: str) -> None:
        waits.append((verb, host, len(fake_ws.instances)))

    runner = GuestExecutor(configuration, throttle=throttle)
    runner.run("ns", "pod-0", "exit 0\n")
    runner.run("ns", "pod-1", "exit 0\n")
    assert waits == [("GET", "127.0.0.1:6443", 0), ("GET", "127.0.0.1:6443", 1)]


def test_the_api_clients_limiter_holds_execs_too() -> None:
    """`InstrumentedApiClient.throttle` is what the operator hands the executor: with a
    bucket of one token at 1/s, the second call waits about a second."""
    slept: list[float] = []
    api = InstrumentedApiClient(
        Configuration(), limiter=BucketRateLimiter(qps=1, burst=1), sleep=slept.append
    )
    api.throttle("GET", "h")
    api.throttle("GET", "h")
    assert slept and 0.5 < slept[0] <= 1.0
