"""The debug endpoint (off unless `--debug-address`): every thread's stack, to see where a
stuck worker, informer or lease renewal waits without restarting the operator."""

from __future__ import annotations

import sys
import threading
import traceback
from email.message import Message

from kubedirector.controller.endpoint import HttpEndpoint, Reply

THREADS_PATH = "/debug/threads"


def thread_dump() -> str:
    """Each live thread's name, id and daemon flag, then its stack, innermost call last."""
    frames = sys._current_frames()
    parts = []
    for thread in sorted(threading.enumerate(), key=lambda t: t.name):
        frame = frames.get(thread.ident or -1)
        header = f'thread "{thread.name}" id={thread.ident} daemon={thread.daemon}'
        stack = "".join(traceback.format_stack(frame)) if frame else "  (no frame)\n"
        parts.append(f"{header}\n{stack}")
    return f"{len(parts)} threads\n\n" + "\n".join(parts)


def _threads(_headers: Message) -> Reply:
    return Reply(200, thread_dump().encode())


def debug_endpoint(address: str) -> HttpEndpoint:
    """The debug server for `address`; not started."""
    return HttpEndpoint("debug", address, {THREADS_PATH: _threads})
