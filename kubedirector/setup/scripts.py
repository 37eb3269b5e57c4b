"""The bash scripts the operator runs inside members (api.md section 5), as text.

Every guest path is prefixed with `${KD_GUEST_ROOT:-}` (unset in a real pod; in
the simulated cluster each fake pod's own directory), every script ends with an
explicit `exit`, and the configure run is left in the background with its
output redirected, so the exec returns at once and later reconciles poll it.

Crash safety: a script that changes the guest is one `{ ... }` group, which bash
reads whole before running any of it, so an exec cut off half-sent runs nothing.
Before `--configure` starts, configure.status is set to `<run id>=`, the
original operator's format; starting the same run again finds it and starts
nothing, so an operator that crashed before saving "started" never runs
`--configure` twice in one container.

configure.status holds one record, `<run id>=` while the run goes and
`<run id>=<exit code>` after, with no newline, as the original wrote it
(`<containerID>=<code>`), read by splitting at the last `=`.  The first run in a
container has the container ID as its run id, so either operator recognises the
other's record; automatic retries use `<containerID>#<n>`.

Layout in the guest (as the original's app images expect):
    /etc/guestconfig/configmeta.json       the cluster's topology
    /opt/guestconfig/<package>/startscript  from the unpacked setup package
    /opt/guestconfig/configure.status       `<run id>=` when a run starts, then
                                            `<run id>=<exit code>` when it ends
    /tmp/journald-status.out                systemd apps: the journald check's output
    /opt/guestconfig/configure.pid          the latest run's process (group) id
    /opt/guestconfig/configure.stdout|.stderr  the configure run's output
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from kubedirector.api.cluster import FileInjection
from kubedirector.api.constants import CONFIGURE_ARGS
from kubedirector.setup import configcli_install

GUESTCONFIG = "/opt/guestconfig"
CONFIGMETA = "/etc/guestconfig/configmeta.json"
PACKAGE_FILE = f"{GUESTCONFIG}/appconfig.tgz"
STATUS_FILE = f"{GUESTCONFIG}/configure.status"
STDOUT_FILE = f"{GUESTCONFIG}/configure.stdout"
STDERR_FILE = f"{GUESTCONFIG}/configure.stderr"
PID_FILE = f"{GUESTCONFIG}/configure.pid"
MARK_RUNNING = "KD-CONFIGURE-RUNNING"
MARK_DONE = "KD-CONFIGURE-DONE"
MARK_STDOUT = "KD-STDOUT"
MARK_STDERR = "KD-STDERR"
JOURNALD_STATUS = "/tmp/journald-status.out"
NOT_READY_EXIT = 92  # systemd-journald is not up yet: try again later
FETCH_TIMEOUT = 120.0
NOTIFY_TIMEOUT = 60.0

_PRELUDE = 'R="${KD_GUEST_ROOT:-}"\n'
# The first */startscript, in the glob's (sorted) order, as `ls | head` would pick it.
_FIND_STARTSCRIPT = (
    f'SS=""; for F in "$R{GUESTCONFIG}"/*/startscript; do '
    'if [ -e "$F" ]; then SS="$F"; break; fi; done\n'
    'if [ -z "$SS" ]; then echo "no */startscript in the setup package under '
    f'{GUESTCONFIG}" >&2; exit 97; fi\n'
)


def _guest(path: str) -> str:
    """A guest path as one shell word under the guest root, taken literally."""
    return f'"$R"{shlex.quote(path)}'


def _fail(message: str, code: int) -> str:
    """Report `message` (taken literally) on stderr and exit with `code`."""
    return f"{{ echo {shlex.quote(message)} >&2; exit {code}; }}"


def _heredoc(path: str, content: str) -> str:
    """Write `content` to the guest path verbatim (quoted heredoc: no expansion)."""
    marker = "KD_EOF_7f3a"
    while marker in content:
        marker += "_"
    folder = posixpath.dirname(path)
    return (
        f'[ -d "$R{folder}" ] || mkdir -p "$R{folder}"\n'
        f"cat > \"$R{path}\" <<'{marker}'\n{content}\n{marker}\n"
    )


def _injection(inj: FileInjection, index: int, fetch_timeout: float) -> str:
    dest = inj.dest_dir.rstrip("/") or "/"
    name = inj.src_url.rstrip("/").rsplit("/", 1)[-1] or f"injected-{index}"
    target = f"{dest}/{name}"
    if inj.src_url.startswith("file://"):  # a file in the image, like a file:// package
        fetch = f"cp {_guest(inj.src_url[len('file://') :])} {_guest(target)}"
    else:
        fetch = (
            f"curl -fsSL --max-time {fetch_timeout:g} -o {_guest(target)} "
            f"{shlex.quote(inj.src_url)}"
        )
    lines = [
        f"mkdir -p {_guest(dest)}",
        f"{fetch} || " + _fail(f"file injection {index}: could not fetch {inj.src_url}", 96),
    ]
    if inj.file_mode:
        lines.append(f"chmod {shlex.quote(inj.file_mode)} {_guest(target)}")
    if inj.file_owner:
        owner = inj.file_owner + (f":{inj.file_group}" if inj.file_group else "")
        lines.append(f"chown {shlex.quote(owner)} {_guest(target)} 2>/dev/null || true")
    return "\n".join(lines) + "\n"


def _fetch(package_url: str, fetch_timeout: float) -> str:
    quoted = shlex.quote(package_url)
    if package_url.startswith("file://"):
        src = package_url[len("file://") :]
        return (
            f'cp {_guest(src)} "$R{PACKAGE_FILE}" 2>/dev/null || '
            + _fail(f"setup package {package_url}: no such file in the container", 95)
            + "\n"
        )
    return (
        f'curl -fsSL --max-time {fetch_timeout:g} -o "$R{PACKAGE_FILE}" {quoted} || '
        + _fail(f"setup package {package_url}: could not be fetched", 95)
        + "\n"
    )


# configure.status as `S`, its run id as `ID` and exit code as `CODE` (split at the
# last `=`, as the original did); all empty when there is no record.
# The whole file through `read`, a builtin, where `$(cat ...)` would cost two
# processes; less the one newline our earlier releases' lines ended with.
_READ_STATUS = (
    f'S=""; {{ IFS= read -r -d "" S <"$R{STATUS_FILE}"; }} 2>/dev/null; S="${{S%$\'\\n\'}}"\n'
    'case "$S" in *=*) ID="${S%=*}"; CODE="${S##*=}" ;; *) ID=""; CODE="" ;; esac\n'
)


def _set_status(record: str) -> str:
    """Replace configure.status with `record`, no newline (the original's format)."""
    return f'printf %s {shlex.quote(record)} >"$R{STATUS_FILE}"'


def _group(body: str) -> str:
    """The body as one compound command: bash reads it whole before running any of it."""
    return "{\n" + body + "}\nexit $?\n"


def start_configure(
    *,
    configmeta: str,
    package_url: str | None,
    run_id: str,
    injections: Sequence[FileInjection] = (),
    keep_configured: bool = False,
    configure: bool = True,
    wait_for_journald: bool = False,
    fetch_timeout: float = FETCH_TIMEOUT,
    configcli: configcli_install.Layout | None = None,
    event: Sequence[str] = CONFIGURE_ARGS,
) -> str:
    """File injections, configmeta, package fetch and unpack, then `--configure` in
    the background; configure.status becomes `<run id>=` before it starts and
    `<run id>=<code>` when it ends.

    Idempotent per run id: if configure.status already names the run (started,
    maybe by an operator that crashed before saving so), nothing is done again.
    Without a package only the injections and configmeta are written (and the run
    counts as done, exit 0).  `configcli`: install it (that layout) before the
    package is fetched, see configcli_install.  `keep_configured` (a restarted member whose
    guestconfig persisted): if the last configure recorded succeeded, it stands,
    as api.md section 4 says, and is not run again.  `configure` false (the role's
    eventList lacks it): the package is unpacked but `--configure` is not run and
    configure.status not written, as in the original.  `wait_for_journald`
    (systemd apps): exit NOT_READY_EXIT, changing nothing, until
    `systemctl status systemd-journald` succeeds.  `event`: the startscript's
    arguments instead of `--configure` (a live upgrade's event), run the same way.
    """
    record = _set_status(run_id + "=0") + "\n"
    parts = [
        _READ_STATUS,
        f'if [ -n "$S" ] && [ "$ID" = {shlex.quote(run_id)} ]; then exit 0; fi\n',
    ]
    if wait_for_journald:
        parts.append(
            f'mkdir -p "$R/tmp"; systemctl status systemd-journald >"$R{JOURNALD_STATUS}" '
            f"2>&1 || exit {NOT_READY_EXIT}\n"
        )
    parts += [
        *(_injection(inj, i, fetch_timeout) for i, inj in enumerate(injections)),
        _heredoc(CONFIGMETA, configmeta),
        f'[ -d "$R{GUESTCONFIG}" ] || mkdir -p "$R{GUESTCONFIG}"\n',
    ]
    if package_url is None:
        return "set -u\n" + _PRELUDE + _group("".join([*parts, record, "exit 0\n"]))
    if configcli is not None:
        parts.append(configcli_install.fragment(configcli))
    if keep_configured:
        parts.append(f'if [ "$CODE" = 0 ]; then {record.strip()}; exit 0; fi\n')
    parts += [
        _fetch(package_url, fetch_timeout),
        f'tar -xzf "$R{PACKAGE_FILE}" -C "$R{GUESTCONFIG}" || '
        + _fail(f"setup package {package_url}: not a gzipped tar", 94)
        + "\n",
        _FIND_STARTSCRIPT,
    ]
    if not configure:
        return "set -u\n" + _PRELUDE + _group("".join([*parts, "exit 0\n"]))
    return (
        "set -u\n"
        + _PRELUDE
        + _group(
            "".join(
                [
                    *parts,
                    f'cd "$R{GUESTCONFIG}"\n',
                    # The marker first: from here on, this run counts as started.
                    _set_status(run_id + "=")
                    + " || "
                    + _fail("cannot write configure.status", 91)
                    + "\n",
                    # Its own process group (setsid, where the image has it), so a run that
                    # outlives its deadline can be stopped whole.
                    'S=""; if command -v setsid >/dev/null 2>&1; then S=setsid; fi\n',
                    'nohup $S bash -c \'"$0" "${@:4}" >"$1" 2>"$2"; printf %s "$?" >>"$3"\' '
                    f'"$SS" "$R{STDOUT_FILE}" "$R{STDERR_FILE}" "$R{STATUS_FILE}" '
                    f"{' '.join(shlex.quote(a) for a in event)} "
                    "</dev/null >/dev/null 2>&1 &\n",
                    f'echo $! >"$R{PID_FILE}"\n',
                    "exit 0\n",
                ]
            )
        )
    )


def stop_configure() -> str:
    """Stop the latest configure run (its process group where it has one): one that
    overran its deadline must not run beside the next attempt."""
    return "".join(
        [
            _PRELUDE,
            f'pid="$(cat "$R{PID_FILE}" 2>/dev/null)"\n',
            'if [ -n "$pid" ]; then kill -TERM -- "-$pid" 2>/dev/null || '
            'kill -TERM "$pid" 2>/dev/null; fi\n',
            "exit 0\n",
        ]
    )


def poll_configure(*, run_id: str, max_chars: int) -> str:
    """Print whether the run finished and, if so, its exit code and output tails."""
    return "".join(
        [
            _PRELUDE,
            _READ_STATUS,
            f'if [ "$ID" != {shlex.quote(run_id)} ] || [ -z "$CODE" ]; then '
            f"echo {MARK_RUNNING}; exit 0; fi\n",
            f'echo "{MARK_DONE} $CODE"\n',
            f'echo {MARK_STDOUT}; tail -c {max_chars} "$R{STDOUT_FILE}" 2>/dev/null; echo\n',
            f'echo {MARK_STDERR}; tail -c {max_chars} "$R{STDERR_FILE}" 2>/dev/null; echo\n',
            "exit 0\n",
        ]
    )


def notify(*, configmeta: str, arguments: Sequence[str], timeout: float = NOTIFY_TIMEOUT) -> str:
    """Refresh configmeta, then run the startscript with `arguments` (addnodes, ...),
    stopped after `timeout` seconds; with no arguments only configmeta is refreshed."""
    if not arguments:
        return "set -u\n" + _PRELUDE + _group(_heredoc(CONFIGMETA, configmeta) + "exit 0\n")
    args = " ".join(shlex.quote(a) for a in arguments)
    return (
        "set -u\n"
        + _PRELUDE
        + _group(
            "".join(
                [
                    _heredoc(CONFIGMETA, configmeta),
                    _FIND_STARTSCRIPT,
                    f'cd "$R{GUESTCONFIG}"\n',
                    f'timeout -k 5 {timeout:g} "$SS" {args} </dev/null\n',
                    "exit $?\n",
                ]
            )
        )
    )


@dataclass(frozen=True)
class ConfigureResult:
    """What a poll found: still running, or the exit code and the output tails."""

    running: bool
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""


def parse_poll(output: str) -> ConfigureResult:
    lines = output.splitlines()
    if not lines or lines[0].strip() == MARK_RUNNING:
        return ConfigureResult(running=True)
    head = lines[0].split()
    code = (
        int(head[1])
        if len(head) == 2 and head[0] == MARK_DONE and re.fullmatch(r"-?[0-9]+", head[1])
        else -1
    )
    text = "\n".join(lines[1:])
    out, _, err = text.partition(f"\n{MARK_STDERR}\n")
    out = out.removeprefix(f"{MARK_STDOUT}\n")
    return ConfigureResult(
        running=False, exit_code=code, stdout=out.strip("\n"), stderr=err.strip("\n")
    )
