"""`configcli` / `ccli` / `bdvcli` / `bd_vcli`: the command line (upstream-pods.md 3.4).

One option (in this priority order) or the positional words become one
instruction for the interpreter; with neither, an interactive shell starts.
Exit status: 0 on success (also for the obsolete vAgent options, which are
no-ops), 1 when a key cannot be resolved or a sub-command rejects its
arguments, 2 for options the tool does not know.
"""

import argparse
import os
import sys

from . import errors
from .configcli import ConfigCli, report, run_instruction
from .parsing import as_text

try:
    from typing import Any  # noqa: F401  # novermin (type comments only)
except ImportError:  # Python 2.7
    pass


def parser(prog):
    # type: (str) -> argparse.ArgumentParser
    p = argparse.ArgumentParser(prog=prog, description="Read this member's configmeta.")
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    p.add_argument("--baseimg_version", action="store_true", help="print the base image version")
    p.add_argument("-g", "--get", metavar="KEY", help="print the value at the dotted KEY")
    p.add_argument("-w", "--wait", metavar="KEY", help="(obsolete, no-op)")
    p.add_argument(
        "-t", "--timeout", metavar="SECONDS", default="3600", help="(obsolete, with --wait)"
    )
    p.add_argument("--tokenwait", metavar="TOKEN", help="(obsolete, no-op)")
    p.add_argument("--fqdn", metavar="FQDN", help="(obsolete, with --tokenwait)")
    p.add_argument("--tokenwake", metavar="TOKEN", help="(obsolete, fails)")
    p.add_argument("--success", dest="wake_success", action="store_true", default=None)
    p.add_argument("--error", dest="wake_success", action="store_false")
    p.add_argument("--service_key", metavar="KEY", help="(obsolete, no-op)")
    p.add_argument("--systemv", metavar="SERVICE")
    p.add_argument("--systemctl", metavar="SERVICE")
    p.add_argument("--unregister_srvc", metavar="KEY", help="(obsolete, no-op)")
    p.add_argument("--cp", action="store_true", help="(obsolete, fails)")
    p.add_argument("--node")
    p.add_argument("--src")
    p.add_argument("--dest")
    p.add_argument("--perms", default="600")
    p.add_argument("--execute", action="store_true", help="(obsolete, fails)")
    p.add_argument("--remote_node")
    p.add_argument("--script")
    p.add_argument("--tenant_info", action="store_true")
    p.add_argument("--tenant_info_lookup", metavar="KEY")
    p.add_argument(
        "--get_local_group_fqdns",
        action="store_true",
        help="FQDNs of every member of this member's nodegroup",
    )
    p.add_argument(
        "--get_nodegroup_fqdns", metavar="ID", help="FQDNs of every member of nodegroup ID"
    )
    p.add_argument(
        "--get_all_fqdns", action="store_true", help="FQDNs of every member of the cluster"
    )
    p.add_argument(
        "instruction",
        nargs=argparse.REMAINDER,
        help="an instruction, e.g. `namespace node fqdn` or `macro node --get_self_id`",
    )
    return p


def instruction(args):
    # type: (Any) -> str | None
    """The instruction the options ask for; None for the interactive shell."""
    if args.version:
        return "ccli version"
    if args.baseimg_version:
        return "baseimg version"
    if args.get is not None:
        first, _, rest = args.get.partition(".")
        return "namespace %s %s" % (first, rest) if rest else "namespace %s" % first
    if args.wait is not None:
        return "dsync wait --srvckey %s --timeout %s" % (args.wait, args.timeout)
    if args.tokenwait is not None:
        return "dsync tokenwait --token %s --fqdn %s" % (args.tokenwait, args.fqdn)
    if args.tokenwake is not None:
        raise errors.ConfigCliError(
            "--tokenwake is not supported (it failed in the original configcli too)"
        )
    if args.service_key is not None:
        if args.systemv is None and args.systemctl is None:
            raise errors.ConfigCliError("--service_key needs --systemv or --systemctl")
        kind, name = (
            ("systemv", args.systemv) if args.systemv is not None else ("systemctl", args.systemctl)
        )
        return "service register --app-srvc %s --%s %s" % (args.service_key, kind, name)
    if args.unregister_srvc is not None:
        return "service unregister --app-srvc %s" % args.unregister_srvc
    if args.cp:
        raise errors.ConfigCliError(
            "--cp is not supported (it failed in the original configcli too)"
        )
    if args.execute:
        raise errors.ConfigCliError(
            "--execute is not supported (it failed in the original configcli too)"
        )
    if args.tenant_info:
        return "namespace tenant --info"
    if args.tenant_info_lookup is not None:
        return "namespace tenant %s" % args.tenant_info_lookup
    if args.get_local_group_fqdns:
        return "macro nodegroup --get_local_group_fqdns"
    if args.get_nodegroup_fqdns is not None:
        return "macro nodegroup --get_nodegroup_fqdns %s" % args.get_nodegroup_fqdns
    if args.get_all_fqdns:
        return "macro nodegroup --get_all_fqdns"
    if args.instruction:
        return " ".join(args.instruction)
    return None


def run(argv, prog):
    # type: (list[str], str) -> int
    """Parse `argv`, run the instruction, print its result; the exit status."""
    args = parser(prog).parse_args([as_text(a) for a in argv])
    cli = ConfigCli(shell=False)
    try:
        line = instruction(args)
    except errors.ConfigCliError as e:
        return report(prog, e)
    if line is None:
        cli.shell = True
        cli.cmdloop()
        return 0
    return run_instruction(cli, line, prog)


def main():
    # type: () -> int
    return run(sys.argv[1:], os.path.basename(sys.argv[0]) or "configcli")


if __name__ == "__main__":
    sys.exit(main())
