"""Log configuration: format selection, levels, bound context, library records."""

from __future__ import annotations

import json
import logging
import sys

import pytest
import structlog

from kubedirector.logging import configure_logging


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = set(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in set(root.handlers) - handlers:
        root.removeHandler(handler)
    root.setLevel(level)


def test_configuring_again_replaces_only_our_handler():
    root = logging.getLogger()
    before = len(root.handlers)
    configure_logging("info", "json")
    configure_logging("debug", "json")
    assert len(root.handlers) == before + 1
    assert root.level == logging.DEBUG


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_events_carry_bound_context(capsys):
    configure_logging("info", "json")
    structlog.contextvars.bind_contextvars(reconcile_id="r-1", key="ns/cluster")
    structlog.get_logger().info("reconcile_started", generation=3)
    [event] = json_lines(capsys.readouterr().err)
    assert event["event"] == "reconcile_started"
    assert event["reconcile_id"] == "r-1"
    assert event["key"] == "ns/cluster"
    assert event["generation"] == 3
    assert event["level"] == "info"
    assert event["timestamp"].endswith("Z")


def test_level_filters_events(capsys):
    configure_logging("WARNING", "json")
    log = structlog.get_logger()
    log.info("quiet")
    log.warning("loud")
    assert [e["event"] for e in json_lines(capsys.readouterr().err)] == ["loud"]


def test_exceptions_are_rendered_into_the_json_event(capsys):
    configure_logging("info", "json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger().exception("reconcile_error")
    [event] = json_lines(capsys.readouterr().err)
    assert "RuntimeError: boom" in event["exception"]


def test_stdlib_records_are_rendered_alike(capsys):
    configure_logging("info", "json")
    structlog.contextvars.bind_contextvars(reconcile_id="r-2")
    logging.getLogger("urllib3.connectionpool").warning("pool is full, %d dropped", 2)
    [event] = json_lines(capsys.readouterr().err)
    assert event["event"] == "pool is full, 2 dropped"
    assert event["logger"] == "urllib3.connectionpool"
    assert event["level"] == "warning"
    assert event["reconcile_id"] == "r-2"


def test_console_format_is_for_people(capsys):
    configure_logging("debug", "console")
    structlog.get_logger().debug("hello", who="dev")
    err = capsys.readouterr().err
    assert "hello" in err
    assert "who" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)


@pytest.mark.parametrize(
    ("in_cluster", "tty", "json_expected"),
    [(True, True, True), (False, False, True), (False, True, False)],
)
def test_auto_picks_json_in_cluster_or_without_a_terminal(
    monkeypatch, capsys, in_cluster, tty, json_expected
):
    if in_cluster:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    else:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    configure_logging("info", "auto")
    structlog.get_logger().info("started")
    err = capsys.readouterr().err
    if json_expected:
        assert json_lines(err)[0]["event"] == "started"
    else:
        assert "started" in err
        with pytest.raises(json.JSONDecodeError):
            json.loads(err)


def test_bad_level_or_format_is_refused():
    with pytest.raises(ValueError, match="level"):
        configure_logging("chatty", "json")
    with pytest.raises(ValueError, match="format"):
        configure_logging("info", "xml")  # type: ignore[arg-type]
