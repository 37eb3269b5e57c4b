"""The `kubedirector` command line, also installed as the kubectl plugin `kubectl kd`.

`run` is the operator; `validate` and `render` work offline on files; `scale`, `pause`,
`resume`, `upgrade` and `status` talk to the kubeconfig's cluster, as kubectl does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kubedirector import __version__
from kubedirector.options import (
    EXTRA_CONTROLLERS_ENV,
    add_run_arguments,
    run_options,
    whole_number,
)

PLUGIN_PROG = "kubectl kd"
DEFAULT_NAMESPACE = "default"


def _add_cluster_access(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The options naming the cluster and namespace, as kubectl names them.

    The top-level copies (dest `global_*`) let them come before the command too
    (`kubectl kd -n NS status X`, as well as `kubectl kd status X -n NS`).
    """
    parser.add_argument(
        "--kubeconfig",
        dest=f"{prefix}kubeconfig",
        help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        dest=f"{prefix}namespace",
        help="namespace (default: the current context's, else default)",
    )


def _command_access() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    _add_cluster_access(parent)
    return parent


def build_parser(prog: str = "kubedirector") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run stateful, clustered apps on Kubernetes from an app catalog.",
    )
    parser.add_argument("--version", action="version", version=f"kubedirector {__version__}")
    _add_cluster_access(parser, prefix="global_")
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

    validate = commands.add_parser(
        "validate",
        help="check apps, clusters and configs offline, as admission would",
        description="Check KubeDirectorApps, KubeDirectorClusters and the KubeDirectorConfig "
        "in YAML or JSON files (multi-document; directories are searched) with the "
        "admission webhook's rules. A cluster is judged against the app of its spec.app "
        "among the same files. Exit status 1 if anything is invalid.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="file, directory or -")
    validate.add_argument(
        "-n", "--namespace", help="namespace of documents that name none (default: default)"
    )
    validate.add_argument(
        "--operator-namespace",
        default="kubedirector",
        help="the operator's namespace (where a KubeDirectorConfig must live)",
    )

    render = commands.add_parser(
        "render",
        help="print the objects the operator would create for a cluster (YAML)",
        description="Print the headless Service, StatefulSets, PodDisruptionBudgets, member "
        "Services and claims the operator would create for CLUSTER of APP, from the "
        "operator's own builders. Random name suffixes come from a fixed seed here.",
    )
    render.add_argument("app", metavar="APP", help="the KubeDirectorApp file")
    render.add_argument("cluster", metavar="CLUSTER", help="the KubeDirectorCluster file")
    render.add_argument("--config", metavar="FILE", help="a KubeDirectorConfig file")
    render.add_argument(
        "-n", "--namespace", help="namespace if the cluster names none (default: default)"
    )

    scale = commands.add_parser(
        "scale",
        parents=[_command_access()],
        help="set a role's number of members, by role name",
        description="Set ROLE's members in kdcluster CLUSTER to N. The patch tests the "
        "role's id at its place in the list, so it fails rather than resize another "
        "role if the roles change meanwhile.",
    )
    scale.add_argument("cluster", metavar="CLUSTER")
    scale.add_argument("role", metavar="ROLE")
    scale.add_argument("members", metavar="N", type=whole_number(0))

    for command, text in (
        ("pause", "stop a cluster's pods, keeping its members, names and storage"),
        ("resume", "bring a paused cluster's members back"),
    ):
        sub = commands.add_parser(command, parents=[_command_access()], help=text)
        sub.add_argument("cluster", metavar="CLUSTER")

    up = commands.add_parser(
        "upgrade",
        parents=[_command_access()],
        help="move a running cluster to another app in place (live upgrade), or roll back",
        description="Set kdcluster CLUSTER's app to APP: the operator moves its members "
        "to it one at a time (roles in app order, highest ordinal first), each set up "
        "with the startscript's --upgrade event. --rollback moves it back to the app "
        "its latest upgrade came from.",
    )
    up.add_argument("cluster", metavar="CLUSTER")
    which = up.add_mutually_exclusive_group(required=True)
    which.add_argument("app", metavar="APP", nargs="?", help="the KubeDirectorApp to move to")
    which.add_argument(
        "--rollback", action="store_true", help="back to the app the latest upgrade came from"
    )

    status = commands.add_parser(
        "status",
        parents=[_command_access()],
        help="a cluster's members, their states and last setup output",
    )
    status.add_argument("cluster", metavar="CLUSTER")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "kubedirector") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command == "run" and (args.global_kubeconfig or args.global_namespace):
        parser.error("`run` takes --kubeconfig and --namespace after the command")
    namespace = getattr(args, "namespace", None) or args.global_namespace
    kubeconfig = getattr(args, "kubeconfig", None) or args.global_kubeconfig
    # Imports per command keep `--help` and the offline commands fast.
    if args.command == "run":
        options = run_options(args.subparser, args)
        from kubedirector.cmd_run import run  # noqa: PLC0415

        return run(options)
    if args.command == "validate":
        from kubedirector.cmd_validate import run_validate  # noqa: PLC0415

        return run_validate(
            args.files,
            namespace=namespace or DEFAULT_NAMESPACE,
            operator_namespace=args.operator_namespace,
            out=sys.stdout,
            err=sys.stderr,
        )
    if args.command == "render":
        from kubedirector.cmd_render import run_render  # noqa: PLC0415

        return run_render(
            args.app,
            args.cluster,
            config_path=args.config,
            namespace=namespace or DEFAULT_NAMESPACE,
            out=sys.stdout,
            err=sys.stderr,
        )
    if args.command == "scale":
        from kubedirector.cmd_scale import run_scale  # noqa: PLC0415

        return run_scale(
            args.cluster,
            args.role,
            args.members,
            kubeconfig=kubeconfig,
            namespace=namespace,
            out=sys.stdout,
            err=sys.stderr,
        )
    if args.command in ("pause", "resume"):
        from kubedirector.cmd_pause import run_pause  # noqa: PLC0415

        return run_pause(
            args.cluster,
            args.command == "pause",
            kubeconfig=kubeconfig,
            namespace=namespace,
            out=sys.stdout,
            err=sys.stderr,
        )
    if args.command == "upgrade":
        from kubedirector.cmd_upgrade import run_upgrade  # noqa: PLC0415

        return run_upgrade(
            args.cluster,
            None if args.rollback else args.app,
            kubeconfig=kubeconfig,
            namespace=namespace,
            out=sys.stdout,
            err=sys.stderr,
        )
    if args.command == "status":
        from kubedirector.cmd_status import run_status  # noqa: PLC0415

        return run_status(
            args.cluster,
            kubeconfig=kubeconfig,
            namespace=namespace,
            out=sys.stdout,
            err=sys.stderr,
        )
    parser.print_help()
    return 2


def kubectl_plugin() -> int:
    """`kubectl kd ...`: kubectl runs the `kubectl-kd` executable with the arguments."""
    return main(prog=PLUGIN_PROG)
