"""What tests read from, and serve to, the simulated guests: the recording stand-in's
startscript calls, and setup packages over loopback HTTP."""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.support.operator import free_port


def startscript_calls(kubectl, namespace: str, pod: str) -> list[str]:
    """Each `startscript` call the member's recording package saw, one line each."""
    out = kubectl(
        "exec",
        pod,
        "-n",
        namespace,
        "--",
        "sh",
        "-c",
        'cat "$KD_GUEST_ROOT/var/log/guestconfig/startscript.calls"; exit 0',
    ).stdout
    return out.splitlines()


@contextmanager
def serve_package(root: Path, name: str, startscript: str) -> Iterator[str]:
    """`<root>/<name>.tgz` holding `<name>/startscript`, served on loopback; yields the
    server's base URL (the package is at `<url>/<name>.tgz`)."""
    data = startscript.encode()
    with tarfile.open(root / f"{name}.tgz", "w:gz") as tar:
        info = tarfile.TarInfo(f"{name}/startscript")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
