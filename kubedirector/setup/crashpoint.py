"""A test-only hook: end the operator process hard at a named point.

The crash-safety tests set `KD_TEST_CRASH_AT` to one of `POINTS`, so the operator
dies (`os._exit`, no cleanup, like a kill -9) right after an exec and before the
status write that records it; a restarted operator must neither run that step's
side effect twice nor lose it.  Unset (always, outside those tests) it does
nothing.
"""

from __future__ import annotations

import os

import structlog

CRASH_ENV = "KD_TEST_CRASH_AT"
SETUP_STARTED = "setup-started"  # `--configure` was started in a member
SETUP_ENDED = "setup-ended"  # a poll found the configure run finished
NOTIFIED = "notified"  # a notification was delivered
POINTS = frozenset({SETUP_STARTED, SETUP_ENDED, NOTIFIED})
CRASH_EXIT_CODE = 86

log = structlog.get_logger(__name__)


def reached(point: str) -> None:
    """Exit the process at once if the crash hook names `point`."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    if os.environ.get(CRASH_ENV) == point:
        log.warning("crash_point_reached", point=point)
        os._exit(CRASH_EXIT_CODE)
