"""Flags of `kubedirector run`, each with a `KD_...` environment fallback, validated up front.

Bad values are refused by argparse with the flag's name before anything starts.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from kubedirector.api.k8snames import dns1123_label_error, dns1123_subdomain_error
from kubedirector.controller.endpoint import parse_address
from kubedirector.controller.leaderelection import validate_timings
from kubedirector.kube import IN_CLUSTER_NAMESPACE_FILE, in_cluster
from kubedirector.logging import Format

DEFAULT_NAMESPACE = "kubedirector"
DEFAULT_LEASE_NAME = "kubedirector-leader"
LOG_FORMATS: tuple[Format, ...] = get_args(Format)
LOG_LEVELS = ("debug", "info", "warning", "error")
EXTRA_CONTROLLERS_ENV = "KD_EXTRA_CONTROLLERS"
# The client-side rate limit (client-go's QPS and burst); generous: the API server's
# priority and fairness protects it, this only stops a runaway loop.
# At 50/100 with 16 workers, a mass creation of 1,000 clusters waited 3,762 s in all on
# the limiter (18 % of the workers' time; BENCHMARKS.md, issue 14).
DEFAULT_KUBE_API_QPS = 100.0
DEFAULT_KUBE_API_BURST = 200


@dataclass(frozen=True)
class RunOptions:
    """Everything `kubedirector run` was told, after validation."""

    kubeconfig: str | None
    namespace: str
    watch_namespaces: tuple[str, ...]  # empty: all namespaces
    workers: int
    metrics_address: str
    leader_elect: bool
    leader_election_namespace: str
    leader_election_id: str
    lease_duration: float
    renew_deadline: float
    retry_period: float
    log_format: Format
    log_level: str
    webhook_address: str | None = None  # None: no admission webhook served
    webhook_url: str | None = None
    webhook_cert_secret: str = "kubedirector-webhook-cert"
    webhook_config_name: str = "kubedirector-webhook"
    webhook_service: str = "kubedirector-webhook"
    webhook_cert_mode: str = "self"
    fetch_timeout: float = 120.0
    configure_timeout: float = 3600.0
    notify_timeout: float = 60.0
    kube_api_qps: float = DEFAULT_KUBE_API_QPS  # 0: no client-side rate limit
    kube_api_burst: int = DEFAULT_KUBE_API_BURST
    debug_address: str | None = None  # None: no debug endpoint
    secure_metrics_address: str | None = None  # None: /metrics in plain HTTP with the probes
    metrics_cert_dir: str | None = None  # None: a self-signed certificate made at start


def default_namespace() -> str:
    """The pod's own namespace when in a cluster, else "kubedirector"."""
    if in_cluster():
        return IN_CLUSTER_NAMESPACE_FILE.read_text().strip() or DEFAULT_NAMESPACE
    return DEFAULT_NAMESPACE


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (unlimited) or more, got {text!r}")
    return value


def _cert_dir(text: str) -> str:
    missing = [n for n in ("tls.crt", "tls.key") if not (Path(text) / n).is_file()]
    if missing:
        raise argparse.ArgumentTypeError(f"{text} lacks {' and '.join(missing)}")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def _address(text: str) -> str:
    try:
        parse_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A type that checks membership itself, so env-var defaults are checked too."""

    def convert(text: str) -> str:
        value = text.lower()
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    convert.__name__ = "choice"
    return convert


def _existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


def _namespace(text: str) -> str:
    error = dns1123_label_error(text)
    if error:
        raise argparse.ArgumentTypeError(f"namespace {text!r} {error}")
    return text


def _object_name(text: str) -> str:
    error = dns1123_subdomain_error(text)
    if error:
        raise argparse.ArgumentTypeError(f"name {text!r} {error}")
    return text


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{name}={raw!r} is not true or false")


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(name) or default


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `kubedirector run`; each help line names its environment variable."""
    in_pod = in_cluster()
    add = parser.add_argument
    add(
        "--kubeconfig",
        type=_existing_file,
        metavar="PATH",
        default=_env("KD_KUBECONFIG"),
        help="kubeconfig file; default: in-cluster service account, else $KUBECONFIG or "
        "~/.kube/config [KD_KUBECONFIG]",
    )
    add(
        "--namespace",
        type=_namespace,
        metavar="NS",
        default=_env("KD_NAMESPACE"),
        help="the operator's own namespace; default: the pod's namespace in a cluster, else "
        f"{DEFAULT_NAMESPACE} [KD_NAMESPACE]",
    )
    add(
        "--watch-namespace",
        action="append",
        metavar="NS[,NS]",
        dest="watch_namespace",
        help="namespace to watch; repeat or comma-separate for several; default: all "
        "[KD_WATCH_NAMESPACE]",
    )
    add(
        "--workers",
        type=whole_number(1),
        metavar="N",
        # 16: a reconcile mostly waits on the API server and on member execs, and at 4
        # the workers were the bound of a mass creation (BENCHMARKS.md, issue 14).
        default=_env("KD_WORKERS", "16"),
        help="concurrent reconciles per controller, at least 1 (default 16) [KD_WORKERS]",
    )
    add(
        "--metrics-address",
        type=_address,
        metavar="HOST:PORT",
        default=_env("KD_METRICS_ADDRESS", ":8080" if in_pod else "127.0.0.1:8080"),
        help="host:port serving /metrics, /healthz and /readyz; default :8080 in a cluster, "
        "127.0.0.1:8080 elsewhere [KD_METRICS_ADDRESS]",
    )
    add(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="elect one leader among replicas through a Lease; only the leader reconciles "
        "(default on) [KD_LEADER_ELECT=true|false]",
    )
    add(
        "--leader-election-namespace",
        type=_namespace,
        metavar="NS",
        default=_env("KD_LEADER_ELECTION_NAMESPACE"),
        help="namespace of the Lease; default: --namespace [KD_LEADER_ELECTION_NAMESPACE]",
    )
    add(
        "--leader-election-id",
        type=_object_name,
        metavar="NAME",
        default=_env("KD_LEADER_ELECTION_ID", DEFAULT_LEASE_NAME),
        help=f"name of the Lease (default {DEFAULT_LEASE_NAME}) [KD_LEADER_ELECTION_ID]",
    )
    add(
        "--lease-duration",
        type=_seconds,
        metavar="SECONDS",
        default=_env("KD_LEASE_DURATION", "15"),
        help="how long standbys wait after the last renewal they saw before taking over, "
        "seconds (default 15) [KD_LEASE_DURATION]",
    )
    add(
        "--renew-deadline",
        type=_seconds,
        metavar="SECONDS",
        default=_env("KD_RENEW_DEADLINE", "10"),
        help="how long the leader keeps retrying a renewal before it gives up and exits, "
        "seconds; less than --lease-duration (default 10) [KD_RENEW_DEADLINE]",
    )
    add(
        "--retry-period",
        type=_seconds,
        metavar="SECONDS",
        default=_env("KD_RETRY_PERIOD", "2"),
        help="interval between acquire/renew attempts, seconds; --renew-deadline must exceed "
        "1.2 x this (default 2) [KD_RETRY_PERIOD]",
    )
    add(
        "--log-format",
        type=_choice(LOG_FORMATS),
        metavar="FORMAT",
        default=_env("KD_LOG_FORMAT", "auto"),
        help="json, console, or auto (console on a terminal, else json) [KD_LOG_FORMAT]",
    )
    add(
        "--log-level",
        type=_choice(LOG_LEVELS),
        metavar="LEVEL",
        default=_env("KD_LOG_LEVEL", "info"),
        help=f"{', '.join(LOG_LEVELS)} (default info) [KD_LOG_LEVEL]",
    )
    add(
        "--fetch-timeout",
        type=_seconds,
        metavar="SECONDS",
        default=_env("KD_FETCH_TIMEOUT", "120"),
        help="bound on each download in a member (setup package, file injection), seconds "
        "(default 120) [KD_FETCH_TIMEOUT]",
    )
    add(
        "--configure-timeout",
        type=_seconds,
        metavar="SECONDS",
        default=_env("KD_CONFIGURE_TIMEOUT", "3600"),
        help="bound on an app's `startscript --configure` run; one that overruns is stopped "
        "and is a config error, seconds (default 3600) [KD_CONFIGURE_TIMEOUT]",
    )
    add(
        "--notify-timeout",
        type=_seconds,
        metavar="SECONDS",
        default=_env("KD_NOTIFY_TIMEOUT", "60"),
        help="bound on one `startscript --addnodes/--delnodes/--reconnect` call, seconds "
        "(default 60) [KD_NOTIFY_TIMEOUT]",
    )
    add(
        "--kube-api-qps",
        type=_rate,
        metavar="QPS",
        default=_env("KD_KUBE_API_QPS", str(DEFAULT_KUBE_API_QPS)),
        help="client-side limit on API requests per second, every request the operator "
        f"makes; 0: unlimited (default {DEFAULT_KUBE_API_QPS:g}) [KD_KUBE_API_QPS]",
    )
    add(
        "--kube-api-burst",
        type=whole_number(1),
        metavar="N",
        default=_env("KD_KUBE_API_BURST", str(DEFAULT_KUBE_API_BURST)),
        help="requests allowed at once above --kube-api-qps, at least 1 "
        f"(default {DEFAULT_KUBE_API_BURST}) [KD_KUBE_API_BURST]",
    )
    add(
        "--debug-address",
        type=_optional_address,
        metavar="HOST:PORT",
        default=_env("KD_DEBUG_ADDRESS", ""),
        help="host:port serving /debug/threads (every thread's stack), plain HTTP without "
        "authentication: keep it on 127.0.0.1; default off [KD_DEBUG_ADDRESS]",
    )
    add(
        "--secure-metrics-address",
        type=_optional_address,
        metavar="HOST:PORT",
        default=_env("KD_SECURE_METRICS_ADDRESS", ""),
        help="host:port serving /metrics over HTTPS to callers whose bearer token passes a "
        "TokenReview and a SubjectAccessReview (get on /metrics); --metrics-address then "
        "serves only the probes; default off [KD_SECURE_METRICS_ADDRESS]",
    )
    add(
        "--metrics-cert-dir",
        type=_cert_dir,
        metavar="DIR",
        default=_env("KD_METRICS_CERT_DIR"),
        help="folder with tls.crt and tls.key for --secure-metrics-address; default: a "
        "self-signed certificate made at start [KD_METRICS_CERT_DIR]",
    )
    add_webhook_arguments(parser)


def _webhook_url(text: str) -> str:
    if not text.startswith("https://"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an https:// URL")
    return text.rstrip("/")


def _optional_address(text: str) -> str:
    return _address(text) if text else ""


def add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    """The admission webhook's flags (docs/admission.md)."""
    in_pod = in_cluster()
    add = parser.add_argument
    add(
        "--webhook-address",
        type=_optional_address,
        metavar="HOST:PORT",
        default=_env("KD_WEBHOOK_ADDRESS", ":9443" if in_pod else ""),
        help="host:port serving the admission webhook over HTTPS; default :9443 in a "
        "cluster, off elsewhere [KD_WEBHOOK_ADDRESS]",
    )
    add("--no-webhook", action="store_true", help="serve no admission webhook, even in a cluster")
    add(
        "--webhook-url",
        type=_webhook_url,
        metavar="URL",
        default=_env("KD_WEBHOOK_URL"),
        help="the base URL the API server calls when the webhook configuration uses a URL "
        "(the local overlay: https://127.0.0.1:9443); its host joins the certificate "
        "[KD_WEBHOOK_URL]",
    )
    add(
        "--webhook-cert-secret",
        type=_object_name,
        metavar="NAME",
        default=_env("KD_WEBHOOK_CERT_SECRET", "kubedirector-webhook-cert"),
        help="Secret (in --namespace) keeping the serving certificate and its CA "
        "[KD_WEBHOOK_CERT_SECRET]",
    )
    add(
        "--webhook-config-name",
        type=_object_name,
        metavar="NAME",
        default=_env("KD_WEBHOOK_CONFIG_NAME", "kubedirector-webhook"),
        help="name of the Validating/MutatingWebhookConfiguration whose caBundle is kept "
        "current [KD_WEBHOOK_CONFIG_NAME]",
    )
    add(
        "--webhook-service",
        type=_object_name,
        metavar="NAME",
        default=_env("KD_WEBHOOK_SERVICE", "kubedirector-webhook"),
        help="the webhook's Service (its DNS names go into the certificate) [KD_WEBHOOK_SERVICE]",
    )
    add(
        "--webhook-cert-mode",
        type=_choice(("self", "external")),
        metavar="MODE",
        default=_env("KD_WEBHOOK_CERT_MODE", "self"),
        help="self: the operator issues, rotates and publishes its certificate; external: "
        "another issuer (cert-manager) fills the Secret and caBundle [KD_WEBHOOK_CERT_MODE]",
    )


def run_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> RunOptions:
    """Apply the remaining env fallbacks and cross-flag rules; `parser.error` on bad input."""
    raw_namespaces = args.watch_namespace or [_env("KD_WATCH_NAMESPACE", "")]
    watch = tuple(
        dict.fromkeys(ns.strip() for item in raw_namespaces for ns in item.split(",") if ns.strip())
    )
    for ns in watch:
        try:
            _namespace(ns)
        except argparse.ArgumentTypeError as e:
            parser.error(f"argument --watch-namespace: {e}")
    try:
        leader_elect = (
            args.leader_elect
            if args.leader_elect is not None
            else _env_bool("KD_LEADER_ELECT", True)
        )
    except argparse.ArgumentTypeError as e:
        parser.error(f"argument --leader-elect: {e}")
    try:
        validate_timings(args.lease_duration, args.renew_deadline, args.retry_period)
    except ValueError as e:
        parser.error(f"arguments --lease-duration/--renew-deadline/--retry-period: {e}")
    namespace = args.namespace or default_namespace()
    return RunOptions(
        kubeconfig=args.kubeconfig,
        namespace=namespace,
        watch_namespaces=watch,
        workers=args.workers,
        metrics_address=args.metrics_address,
        leader_elect=leader_elect,
        leader_election_namespace=args.leader_election_namespace or namespace,
        leader_election_id=args.leader_election_id,
        lease_duration=args.lease_duration,
        renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
        log_format=args.log_format,
        log_level=args.log_level,
        webhook_address=None
        if args.no_webhook or not args.webhook_address
        else args.webhook_address,
        webhook_url=args.webhook_url,
        webhook_cert_secret=args.webhook_cert_secret,
        webhook_config_name=args.webhook_config_name,
        webhook_service=args.webhook_service,
        webhook_cert_mode=args.webhook_cert_mode,
        fetch_timeout=args.fetch_timeout,
        configure_timeout=args.configure_timeout,
        notify_timeout=args.notify_timeout,
        kube_api_qps=args.kube_api_qps,
        kube_api_burst=args.kube_api_burst,
        debug_address=args.debug_address or None,
        secure_metrics_address=args.secure_metrics_address or None,
        metrics_cert_dir=args.metrics_cert_dir,
    )
