"""/debug/threads: every thread's stack, served only when asked for."""

from __future__ import annotations

import threading
import urllib.request

from kubedirector.controller.debug import THREADS_PATH, debug_endpoint, thread_dump


def parked_here(stop: threading.Event) -> None:
    stop.wait(30)


def test_the_dump_names_every_thread_and_where_it_waits():
    stop = threading.Event()
    worker = threading.Thread(target=parked_here, args=(stop,), name="stuck-worker")
    worker.start()
    try:
        dump = thread_dump()
    finally:
        stop.set()
        worker.join(5)
    assert 'thread "stuck-worker"' in dump
    section = dump.split('thread "stuck-worker"', 1)[1].split("\nthread ", 1)[0]
    assert "parked_here" in section and "stop.wait(30)" in section
    assert 'thread "MainThread"' in dump
    assert "test_the_dump_names_every_thread" in dump


def test_served_on_its_own_address():
    endpoint = debug_endpoint("127.0.0.1:0")
    endpoint.start()
    try:
        url = f"http://127.0.0.1:{endpoint.port}"
        with urllib.request.urlopen(url + THREADS_PATH, timeout=5) as r:
            body = r.read().decode()
        assert r.status == 200 and 'thread "debug-server"' in body
        try:
            urllib.request.urlopen(url + "/metrics", timeout=5)
            raise AssertionError("/metrics served on the debug address")
        except urllib.error.HTTPError as e:
            assert e.code == 404
    finally:
        endpoint.stop()
