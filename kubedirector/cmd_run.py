"""`kubedirector run`: build the manager from the controller registry and run it.

Test/extension hook: `KD_EXTRA_CONTROLLERS=module:function[,module:function...]` names
functions with the signature of `kubedirector.controllers.build_controllers`; their
controllers run alongside the built-in ones (the end-to-end tests use it to add a
small ConfigMap-copy controller).
"""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Callable
from types import FrameType

import structlog
from kubernetes.client import ApiClient

from kubedirector.cache.factory import InformerFactory
from kubedirector.controller.controller import Controller
from kubedirector.controller.debug import debug_endpoint
from kubedirector.controller.endpoint import HttpEndpoint
from kubedirector.controller.health import HealthServer
from kubedirector.controller.leaderelection import LeaderElectionConfig
from kubedirector.controller.manager import Manager
from kubedirector.controllers import build_controllers
from kubedirector.kube import new_api_client
from kubedirector.logging import configure_logging
from kubedirector.metrics.secure import (
    CachedReviews,
    review_token,
    secure_metrics_endpoint,
    serving_context,
)
from kubedirector.options import EXTRA_CONTROLLERS_ENV, RunOptions
from kubedirector.webhook.start import start_webhook

log = structlog.get_logger(__name__)

Builder = Callable[[ApiClient, InformerFactory, RunOptions], list[Controller]]


def extra_builders(spec: str) -> list[Builder]:
    """Import each `module:function` in the comma-separated `spec`."""
    builders: list[Builder] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        module_name, sep, attr = item.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"{EXTRA_CONTROLLERS_ENV}: {item!r} is not module:function")
        builders.append(getattr(importlib.import_module(module_name), attr))
    return builders


def run(options: RunOptions) -> int:
    """Run the operator until SIGTERM/SIGINT; the return value is the exit code."""
    configure_logging(options.log_level, options.log_format)
    api = new_api_client(options.kubeconfig, qps=options.kube_api_qps, burst=options.kube_api_burst)
    informers = InformerFactory(api, options.watch_namespaces)
    controllers = build_controllers(api, informers, options)
    for builder in extra_builders(os.environ.get(EXTRA_CONTROLLERS_ENV, "")):
        controllers.extend(builder(api, informers, options))
    election = None
    if options.leader_elect:
        election = LeaderElectionConfig(
            namespace=options.leader_election_namespace,
            name=options.leader_election_id,
            lease_duration=options.lease_duration,
            renew_deadline=options.renew_deadline,
            retry_period=options.retry_period,
        )
    webhook = None
    if options.webhook_address:
        webhook = start_webhook(
            api,
            informers,
            namespace=options.namespace,
            address=options.webhook_address,
            cert_secret=options.webhook_cert_secret,
            webhook_config_names=(options.webhook_config_name,),
            service_name=options.webhook_service,
            url=options.webhook_url,
            manage_certs=options.webhook_cert_mode == "self",
        )
    manager = Manager(
        api,
        controllers,
        leader_election=election,
        informers=[*informers.all(), *(webhook.informers if webhook else [])],
    )
    health = HealthServer(options.metrics_address, metrics=options.secure_metrics_address is None)
    health.add_ready_check("informers", manager.synced)
    if webhook is not None:
        health.add_ready_check("webhook", webhook.ready)
    endpoints: list[HttpEndpoint] = [health]
    if options.secure_metrics_address:
        endpoints.append(
            secure_metrics_endpoint(
                options.secure_metrics_address,
                CachedReviews(lambda token: review_token(api, token)),
                serving_context(options.metrics_cert_dir),
            )
        )
    if options.debug_address:
        endpoints.append(debug_endpoint(options.debug_address))
    for endpoint in endpoints:
        endpoint.start()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        manager.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "operator_starting",
        controllers=[c.name for c in controllers],
        watch_namespaces=list(options.watch_namespaces) or "all",
        leader_election=options.leader_elect,
        webhook=options.webhook_address or "off",
        secure_metrics=options.secure_metrics_address or "off",
        debug=options.debug_address or "off",
        kube_api_qps=options.kube_api_qps,
        kube_api_burst=options.kube_api_burst,
        identity=manager.elector.config.identity if manager.elector else "",
    )
    try:
        return manager.run()
    finally:
        if webhook is not None:
            webhook.stop()
        for endpoint in endpoints:
            endpoint.stop()
        api.close()
