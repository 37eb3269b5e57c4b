"""`kubedirector status CLUSTER`: a cluster's members, their states and last setup output.

Reads only the cluster's stored status, which the operator keeps current: no
exec, no pod listing, so it works with nothing but `get` on the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from kubedirector.api.errors import SpecError
from kubedirector.api.status import ClusterStatus, MemberStateDetail
from kubedirector.clientconfig import CommandError, connect, get_cluster
from kubedirector.lifecycle.cluster_state import upgrade_progress

HEADER = ("ROLE", "MEMBER", "NODE", "STATE", "DETAIL")
CONDITIONS = ("Ready", "Progressing", "Degraded")


def member_detail(detail: MemberStateDetail) -> str:
    """The one line that says most about where a member is: an error, else progress."""
    if detail.config_error_detail:
        return detail.config_error_detail
    if detail.unresponsive:
        return f"unresponsive: {detail.unresponsive}"
    if detail.scheduling_error_message:
        return detail.scheduling_error_message
    if detail.storage_init_progress:
        return f"storage init {detail.storage_init_progress}"
    if detail.pending_notify_cmds:
        return f"{len(detail.pending_notify_cmds)} notification(s) pending"
    return ""


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart, as kubectl prints them."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _indented(text: str) -> list[str]:
    return ["    " + line for line in text.rstrip("\n").splitlines()]


def format_status(cluster: Mapping[str, Any]) -> str:
    """The report for a stored KubeDirectorCluster (raises SpecError if its status is bad)."""
    meta = cluster.get("metadata") or {}
    spec = cluster.get("spec") or {}
    status = ClusterStatus.from_dict(cluster.get("status") or {})
    lines = [
        f"kdcluster/{meta.get('name')} (app {spec.get('app')})  "
        f"state: {status.state or 'not reconciled yet'}  members: {status.member_summary or '-'}"
    ]
    by_type = {c.type: c for c in status.conditions}
    shown = [f"{t}={by_type[t].status}" for t in CONDITIONS if t in by_type]
    if shown:
        lines.append("conditions: " + "  ".join(shown))
    degraded, ready = by_type.get("Degraded"), by_type.get("Ready")
    if degraded is not None and degraded.status == "True":
        lines.append(f"  Degraded ({degraded.reason}): {degraded.message}")
    if ready is not None and ready.status != "True" and ready.message:
        lines.append(f"  not Ready ({ready.reason}): {ready.message}")
    moving = {}
    if status.upgrade is not None:
        lines.append(f"upgrade {status.upgrade.phase}: {upgrade_progress(status.upgrade)}")
        moving = {e.pod: e.state for e in status.upgrade.members}
    rows: list[tuple[str, ...]] = [HEADER]
    for role in status.roles:
        if not role.members:
            rows.append((role.id, "-", "-", "no members", ""))
        for m in role.members:
            state = f"{m.state} (upgrade: {moving[m.pod]})" if m.pod in moving else m.state
            rows.append((role.id, m.pod, str(m.node_id), state, member_detail(m.state_detail)))
    lines.append("")
    lines += table(rows) if len(rows) > 1 else ["no members yet"]
    outputs: list[str] = []
    for role in status.roles:
        for m in role.members:
            for stream, text in (
                ("stdout", m.state_detail.start_script_stdout_message),
                ("stderr", m.state_detail.start_script_stderr_message),
            ):
                if text:
                    outputs += [f"  {m.pod} ({stream}):", *_indented(text)]
    if outputs:
        lines += ["", "last setup output:", *outputs]
    return "\n".join(lines) + "\n"


def run_status(
    name: str, *, kubeconfig: str | None, namespace: str | None, out: TextIO, err: TextIO
) -> int:
    try:
        api, ns = connect(kubeconfig, namespace)
        try:
            cluster = get_cluster(api, ns, name)
        finally:
            api.close()
    except CommandError as e:
        print(f"error: {e}", file=err)
        return 1
    try:
        out.write(format_status(cluster))
    except SpecError as e:
        print(f"error: kdcluster {name!r} has a malformed status: {e}", file=err)
        return 1
    return 0
