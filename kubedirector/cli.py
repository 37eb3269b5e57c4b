"""The `kubedirector` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kubedirector import __version__
from kubedirector.options import EXTRA_CONTROLLERS_ENV, add_run_arguments, run_options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubedirector",
        description="Run stateful, clustered apps on Kubernetes from an app catalog.",
    )
    parser.add_argument("--version", action="version", version=f"kubedirector {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the operator (controllers, leader election, health and metrics)",
        description="Run the operator: informers on every replica, reconcilers on the "
        "elected leader, /metrics, /healthz and /readyz on --metrics-address. "
        "SIGTERM or SIGINT shuts down gracefully and releases the lease.",
        epilog=f"Test/extension hook: {EXTRA_CONTROLLERS_ENV}=module:function[,...] adds the "
        "controllers those functions build (same signature as "
        "kubedirector.controllers.build_controllers).",
    )
    add_run_arguments(run)
    run.set_defaults(subparser=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "run":
        options = run_options(args.subparser, args)
        from kubedirector.cmd_run import run  # noqa: PLC0415 - keep --help fast

        return run(options)
    return 0
