"""What tests read from, and serve to, the simulated guests: the recording stand-in's
startscript calls, and setup packages over loopback HTTP."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.support.operator import free_port
from tests.unit.guest_root import make_package


def guest_sh(kubectl, namespace: str, pod: str, command: str) -> str:
    """The output of `sh -c <command>` in the member's container; the simulated guest's
    root is `$KD_GUEST_ROOT` there."""
    return str(kubectl("exec", pod, "-n", namespace, "--", "sh", "-c", command).stdout)


def guest_file(kubectl, namespace: str, pod: str, path: str) -> str | None:
    """A file in the member's guest root, None when absent."""
    out = guest_sh(
        kubectl, namespace, pod, f'cat "$KD_GUEST_ROOT{path}" 2>/dev/null || echo KD-ABSENT; exit 0'
    )
    return None if out.strip() == "KD-ABSENT" else out


def startscript_calls(kubectl, namespace: str, pod: str) -> list[str]:
    """Each `startscript` call the member's recording package saw, one line each."""
    return (
        guest_file(kubectl, namespace, pod, "/var/log/guestconfig/startscript.calls") or ""
    ).splitlines()


@contextmanager
def serve_package(root: Path, name: str, startscript: str) -> Iterator[str]:
    """`<root>/<name>.tgz` holding `<name>/startscript`, served on loopback; yields the
    server's base URL (the package is at `<url>/<name>.tgz`)."""
    make_package(root / f"{name}.tgz", {f"{name}/startscript": startscript})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
