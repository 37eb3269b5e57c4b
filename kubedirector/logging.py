"""Structured logging to stderr: JSON for log collectors, colours for people.

Context bound with `structlog.contextvars.bind_contextvars` (a reconcile id, the
key) is merged into every event, and records from libraries that use the
standard `logging` module are rendered the same way.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

import structlog
from structlog.typing import Processor

Format = Literal["json", "console", "auto"]


def configure_logging(level: str = "info", fmt: Format = "auto") -> None:
    """Configure structlog and the standard library root logger; safe to call again."""
    levelno = logging.getLevelNamesMapping().get(level.upper())
    if levelno is None:
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("json", "console", "auto"):
        raise ValueError(f"unknown log format {fmt!r}")
    stream = sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and _is_unattended(stream))
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The console renderer prints exceptions itself; JSON needs them as a string.
    exceptions: list[Processor] = [structlog.processors.format_exc_info] if use_json else []
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(levelno),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *exceptions,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(levelno)


class _Handler(logging.StreamHandler):
    """Ours, so calling configure_logging again replaces it and leaves other handlers be."""


def _is_unattended(stream: object) -> bool:
    """In a pod, or writing to a file or pipe: someone's log collector will read this."""
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    isatty = getattr(stream, "isatty", None)
    return in_cluster or not (callable(isatty) and isatty())
