"""Run a bash script inside a member's `app` container through `pods/exec`.

Each call opens its own websocket (the client's `stream()` helper swaps the
shared ApiClient's transport, which is unsafe with several worker threads),
feeds the script on stdin (an exec's stdin may never be closed, so every script
ends with `exit`), and gives up after a timeout: a hung guest costs one worker
at most that long, never the queue.  The websocket handshake has its own
timeout (`HANDSHAKE_TIMEOUT`): the client library's own connect has none, so an
API server or proxy that accepts the connection and never answers would
otherwise hold the worker forever.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

import certifi
import structlog
import yaml
from kubernetes.client import Configuration
from kubernetes.stream.ws_client import (
    ERROR_CHANNEL,
    V4_CHANNEL_PROTOCOL,
    V5_CHANNEL_PROTOCOL,
    WSClient,
    get_websocket_url,
    websocket_proxycare,
)
from websocket import WebSocket, WebSocketException

from kubedirector.api.constants import APP_CONTAINER_NAME
from kubedirector.metrics.registry import REST_CLIENT_REQUESTS

log = structlog.get_logger(__name__)
DEFAULT_TIMEOUT = 30.0
HANDSHAKE_TIMEOUT = 10.0
_ENDS_WITH_EXIT = re.compile(r"(^|[\n;])\s*exit\b[^\n;]*\s*$")


class ExecError(Exception):
    """The exec itself failed (no exit code): unreachable pod, refused, timed out."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


class _ConnectedWSClient(WSClient):
    """kubernetes' WSClient over a websocket connected here, with a timeout.

    WSClient.__init__ would connect itself, with no timeout; this sets the same
    fields (kubernetes 3x) on an already open socket instead.
    """

    def __init__(self, sock: WebSocket) -> None:  # no super().__init__(): it would connect
        self._connected = False
        self._channels: dict[int, str] = {}
        self._closed_channels: set[int] = set()
        self.binary = False
        self.newline = "\n"
        self._all = StringIO()
        self.sock = sock
        self.subprotocol = getattr(sock, "subprotocol", None) or next(
            (
                v
                for k, v in (sock.getheaders() or {}).items()
                if k.lower() == "sec-websocket-protocol"
            ),
            None,
        )
        self._connected = True
        self._returncode = None


def connect(
    configuration: Configuration, url: str, headers: dict[str, str], timeout: float
) -> WSClient:
    """Open the exec websocket, the handshake bounded by `timeout` (as are later socket
    reads and writes: one that stalls that long counts as a lost connection)."""
    header = [f"sec-websocket-protocol: {V5_CHANNEL_PROTOCOL},{V4_CHANNEL_PROTOCOL}"]
    if "authorization" in headers:
        header.append(f"authorization: {headers['authorization']}")
    sslopt: dict[str, object] = {"cert_reqs": ssl.CERT_NONE}
    if url.startswith("wss://") and configuration.verify_ssl:
        sslopt = {
            "cert_reqs": ssl.CERT_REQUIRED,
            "ca_certs": configuration.ssl_ca_cert or certifi.where(),
        }
        if configuration.assert_hostname is not None:
            sslopt["check_hostname"] = configuration.assert_hostname
    for key, value in (
        ("certfile", configuration.cert_file),
        ("keyfile", configuration.key_file),
        ("server_hostname", configuration.tls_server_name),
    ):
        if value:
            sslopt[key] = value
    options: dict[str, object] = {"header": header, "timeout": timeout}
    if configuration.proxy or configuration.proxy_headers:
        options = websocket_proxycare(options, configuration, url, headers)
    sock = WebSocket(sslopt=sslopt, skip_utf8_validation=False)
    sock.connect(url, **options)
    return _ConnectedWSClient(sock)


class ScriptRunner(Protocol):
    """What setup needs of an executor: GuestExecutor, or a test's guest stand-in."""

    def run(
        self,
        namespace: str,
        pod: str,
        script: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        container: str = APP_CONTAINER_NAME,
    ) -> ExecResult: ...


class GuestExecutor:
    """Runs scripts in pods of the cluster the configuration points at."""

    def __init__(
        self,
        configuration: Configuration,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        throttle: Callable[[str, str], None] | None = None,
    ) -> None:
        self.configuration = configuration
        self.handshake_timeout = handshake_timeout
        # The API client's rate limiter (`InstrumentedApiClient.throttle`): an exec is a
        # request too, opened on its own websocket.
        self.throttle = throttle

    def run(
        self,
        namespace: str,
        pod: str,
        script: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        container: str = APP_CONTAINER_NAME,
    ) -> ExecResult:
        """Run `script` with `bash -s`; raises ExecError when no exit code came back."""
        if not _ENDS_WITH_EXIT.search(script):
            raise ValueError("a guest script must end with an explicit exit")
        query = urlencode(
            [
                ("command", "bash"),
                ("command", "-s"),
                ("container", container),
                ("stdin", "true"),
                ("stdout", "true"),
                ("stderr", "true"),
                ("tty", "false"),
            ]
        )
        url = get_websocket_url(
            f"{self.configuration.host}/api/v1/namespaces/"
            f"{quote(namespace)}/pods/{quote(pod)}/exec?{query}"
        )
        code = "<error>"
        if self.throttle is not None:
            self.throttle("GET", urlsplit(url).netloc)
        started = time.monotonic()
        try:
            client = connect(
                self.configuration, url, self._headers(), min(timeout, self.handshake_timeout)
            )
        except Exception as e:  # the websocket library raises its own types
            raise ExecError(f"exec into {namespace}/{pod} failed: {e}") from e
        finally:
            REST_CLIENT_REQUESTS.labels(code="101", method="GET", host=urlsplit(url).netloc).inc()
        try:
            lost = None
            try:
                client.write_stdin(script if script.endswith("\n") else script + "\n")
                deadline = started + timeout
                while client.is_open() and time.monotonic() < deadline:
                    client.update(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            except (WebSocketException, OSError) as e:
                # The connection went first (a close race): the status that arrived decides.
                lost = e
            if lost is None and client.is_open():
                code = "timeout"
                raise ExecError(f"exec into {namespace}/{pod} timed out after {timeout:.0f}s")
            try:
                stdout, stderr = client.read_stdout(), client.read_stderr()
                status = client.read_channel(ERROR_CHANNEL)
            except (WebSocketException, OSError) as e:
                raise ExecError(f"exec into {namespace}/{pod}: connection lost: {e}") from e
            if lost is not None and not status:
                raise ExecError(f"exec into {namespace}/{pod}: connection lost: {lost}")
            exit_code = _exit_code(status)
            code = str(exit_code)
            return ExecResult(exit_code, stdout or "", stderr or "")
        finally:
            client.close()
            log.debug(
                "guest_exec",
                pod=f"{namespace}/{pod}",
                result=code,
                seconds=round(time.monotonic() - started, 3),
            )

    def _headers(self) -> dict[str, str]:
        """The bearer token, as the client itself sends it (refreshed if it expires);
        without it the exec would be anonymous."""
        bearer = self.configuration.auth_settings().get("BearerToken")
        return {"authorization": bearer["value"]} if bearer and bearer.get("value") else {}


def _exit_code(status_text: str) -> int:
    """The exit code from the exec's status channel (a v1 Status document)."""
    try:
        status = yaml.safe_load(status_text) if status_text else None
    except yaml.YAMLError:
        status = None
    if not isinstance(status, dict):
        raise ExecError("the exec ended without a status")
    if status.get("status") == "Success":
        return 0
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    for cause in causes if isinstance(causes, list) else []:
        # metav1.StatusCause.Type is "reason" in JSON
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(str(cause.get("message")).strip())
            except ValueError:
                raise ExecError(
                    f"the exec ended with an unreadable exit code: {cause.get('message')!r}"
                ) from None
    raise ExecError(str(status.get("message") or "the exec failed"))
