"""`kubedirector run` flags: env fallbacks, and bad values refused with the flag's name."""

from __future__ import annotations

import pytest

from kubedirector.cli import build_parser
from kubedirector.options import run_options


def parse(argv, monkeypatch=None, env=None):
    if env:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    parser = build_parser()
    args = parser.parse_args(["run", *argv])
    return run_options(args.subparser, args)


def refused(argv, capsys, monkeypatch=None, env=None) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse(argv, monkeypatch, env)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in (
        "KD_WORKERS",
        "KD_WATCH_NAMESPACE",
        "KD_LEADER_ELECT",
        "KD_NAMESPACE",
        "KD_METRICS_ADDRESS",
        "KD_LEASE_DURATION",
        "KD_LOG_FORMAT",
        "KD_KUBECONFIG",
        "KD_WEBHOOK_ADDRESS",
        "KD_WEBHOOK_URL",
        "KD_KUBE_API_QPS",
        "KD_KUBE_API_BURST",
        "KD_DEBUG_ADDRESS",
        "KD_SECURE_METRICS_ADDRESS",
        "KD_METRICS_CERT_DIR",
        "KUBERNETES_SERVICE_HOST",
    ):
        monkeypatch.delenv(key, raising=False)


def test_defaults_outside_a_cluster():
    options = parse([])
    assert options.namespace == "kubedirector"
    assert options.watch_namespaces == ()
    assert options.workers >= 1
    assert options.metrics_address == "127.0.0.1:8080"
    assert options.leader_elect is True
    assert options.leader_election_namespace == "kubedirector"
    assert options.leader_election_id == "kubedirector-leader"
    assert (options.lease_duration, options.renew_deadline, options.retry_period) == (15, 10, 2)


def test_flags_override_and_watch_namespaces_combine():
    options = parse(
        [
            "--namespace",
            "ops",
            "--watch-namespace",
            "a,b",
            "--watch-namespace",
            "c",
            "--workers",
            "3",
            "--no-leader-elect",
            "--lease-duration",
            "30s",
            "--renew-deadline",
            "20",
            "--retry-period",
            "4",
            "--log-format",
            "JSON",
        ]
    )
    assert options.watch_namespaces == ("a", "b", "c")
    assert options.workers == 3
    assert options.leader_elect is False
    assert options.leader_election_namespace == "ops"
    assert options.lease_duration == 30.0
    assert options.log_format == "json"


def test_environment_fallbacks(monkeypatch):
    options = parse(
        [],
        monkeypatch,
        {
            "KD_WORKERS": "7",
            "KD_WATCH_NAMESPACE": "x, y",
            "KD_LEADER_ELECT": "false",
            "KD_METRICS_ADDRESS": ":9090",
        },
    )
    assert options.workers == 7
    assert options.watch_namespaces == ("x", "y")
    assert options.leader_elect is False
    assert options.metrics_address == ":9090"


def test_flag_beats_environment(monkeypatch):
    assert parse(["--workers", "2"], monkeypatch, {"KD_WORKERS": "7"}).workers == 2
    assert parse(["--leader-elect"], monkeypatch, {"KD_LEADER_ELECT": "0"}).leader_elect


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--workers", "0"], "--workers"),
        (["--workers", "two"], "--workers"),
        (["--metrics-address", "8080"], "--metrics-address"),
        (["--metrics-address", "host:99999"], "--metrics-address"),
        (["--lease-duration", "-1"], "--lease-duration"),
        (["--retry-period", "soon"], "--retry-period"),
        (["--lease-duration", "10", "--renew-deadline", "10"], "--lease-duration"),
        (["--renew-deadline", "2", "--retry-period", "2"], "--renew-deadline"),
        (["--log-format", "xml"], "--log-format"),
        (["--log-level", "loud"], "--log-level"),
        (["--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig"),
        (["--watch-namespace", "ok,Not_OK"], "--watch-namespace"),
        (["--namespace", "a/b"], "--namespace"),
        (["--leader-election-id", "UPPER"], "--leader-election-id"),
        (["--webhook-address", "9443"], "--webhook-address"),
        (["--webhook-url", "http://127.0.0.1:9443"], "--webhook-url"),
        (["--webhook-cert-mode", "magic"], "--webhook-cert-mode"),
        (["--webhook-config-name", "Bad_Name"], "--webhook-config-name"),
        (["--kube-api-qps", "-1"], "--kube-api-qps"),
        (["--kube-api-qps", "fast"], "--kube-api-qps"),
        (["--kube-api-qps", "inf"], "--kube-api-qps"),
        (["--kube-api-burst", "0"], "--kube-api-burst"),
        (["--debug-address", "6060"], "--debug-address"),
        (["--secure-metrics-address", "x:y"], "--secure-metrics-address"),
        (["--metrics-cert-dir", "/nonexistent"], "--metrics-cert-dir"),
    ],
)
def test_bad_values_are_refused_naming_the_flag(argv, flag, capsys):
    assert flag in refused(argv, capsys)


@pytest.mark.parametrize(
    ("env", "flag"),
    [
        ({"KD_WORKERS": "-3"}, "--workers"),
        ({"KD_LEADER_ELECT": "maybe"}, "KD_LEADER_ELECT"),
        ({"KD_LOG_FORMAT": "xml"}, "--log-format"),
        ({"KD_LEASE_DURATION": "5"}, "--lease-duration"),
    ],
)
def test_bad_environment_values_are_refused(env, flag, capsys, monkeypatch):
    assert flag in refused([], capsys, monkeypatch, env)


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    out = capsys.readouterr().out
    for flag in (
        "--kubeconfig",
        "--namespace",
        "--watch-namespace",
        "--workers",
        "--metrics-address",
        "--leader-elect",
        "--no-leader-elect",
        "--leader-election-namespace",
        "--leader-election-id",
        "--lease-duration",
        "--renew-deadline",
        "--retry-period",
        "--webhook-address",
        "--kube-api-qps",
        "--kube-api-burst",
        "--debug-address",
        "--secure-metrics-address",
        "--metrics-cert-dir",
        "--no-webhook",
        "--webhook-url",
        "--webhook-cert-secret",
        "--webhook-config-name",
        "--webhook-service",
        "--webhook-cert-mode",
        "--log-format",
        "--log-level",
        "KD_EXTRA_CONTROLLERS",
    ):
        assert flag in out


def test_webhook_is_off_outside_a_cluster_unless_an_address_is_given(monkeypatch):
    assert parse([]).webhook_address is None
    options = parse(
        ["--webhook-address", "127.0.0.1:9443", "--webhook-url", "https://127.0.0.1:9443/"]
    )
    assert options.webhook_address == "127.0.0.1:9443"
    assert options.webhook_url == "https://127.0.0.1:9443"
    assert options.webhook_cert_mode == "self"
    assert parse(["--webhook-address", "127.0.0.1:9443", "--no-webhook"]).webhook_address is None
    env = parse([], monkeypatch, {"KD_WEBHOOK_ADDRESS": "127.0.0.1:9444"})
    assert env.webhook_address == "127.0.0.1:9444"


def test_client_rate_debug_and_secure_metrics_options(monkeypatch, tmp_path):
    defaults = parse([])
    assert (defaults.kube_api_qps, defaults.kube_api_burst) == (100.0, 200)
    assert defaults.debug_address is None and defaults.secure_metrics_address is None
    (tmp_path / "tls.crt").write_text("x")
    (tmp_path / "tls.key").write_text("x")
    options = parse(
        ["--kube-api-qps", "0", "--debug-address", "127.0.0.1:6060"],
        monkeypatch,
        {
            "KD_KUBE_API_QPS": "5",
            "KD_KUBE_API_BURST": "9",
            "KD_SECURE_METRICS_ADDRESS": ":8443",
            "KD_METRICS_CERT_DIR": str(tmp_path),
        },
    )
    assert (options.kube_api_qps, options.kube_api_burst) == (0.0, 9)
    assert options.debug_address == "127.0.0.1:6060"
    assert options.secure_metrics_address == ":8443"
    assert options.metrics_cert_dir == str(tmp_path)
