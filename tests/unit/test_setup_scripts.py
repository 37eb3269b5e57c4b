"""The guest scripts (api.md section 5), run for real with bash in a temp guest root."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kubedirector.api.cluster import FileInjection
from kubedirector.setup import scripts
from kubedirector.setup.executor import _ENDS_WITH_EXIT
from kubedirector.setup.scripts import ConfigureResult, parse_poll
from tests.unit.guest_root import make_package, run_guest

PACKAGE = "/opt/configscripts/appconfig.tgz"
PACKAGE_URL = f"file://{PACKAGE}"
RUN_ID = "containerd://0123456789abcdef"

# A startscript that records how it was called (pid for cleanup, cwd, arguments),
# and for `--configure` prints to both streams, sleeps SLEEP and exits CODE.
STARTSCRIPT = """#!/bin/bash
echo $$ >>"$KD_GUEST_ROOT/pids"
echo "$(pwd) $*" >>"$KD_GUEST_ROOT/calls"
if [ "$1" = --configure ]; then
  echo configuring-out
  echo configuring-err >&2
  sleep {sleep}
  exit {code}
fi
cp "$KD_GUEST_ROOT/etc/guestconfig/configmeta.json" "$KD_GUEST_ROOT/seen-configmeta"
echo "notified $*"
echo "notify-err" >&2
[ "$1" = --delnodes ] && exit 3
exit 0
"""


# ---------------------------------------------------------------- helpers


def poll(root: Path, run_id: str = RUN_ID, max_chars: int = 256) -> ConfigureResult:
    proc = run_guest(root, scripts.poll_configure(run_id=run_id, max_chars=max_chars))
    assert proc.returncode == 0, proc.stderr
    return parse_poll(proc.stdout)


def wait_done(
    root: Path, run_id: str = RUN_ID, max_chars: int = 256, limit: float = 8.0
) -> ConfigureResult:
    deadline = time.monotonic() + limit
    while True:
        result = poll(root, run_id, max_chars)
        if not result.running:
            return result
        assert time.monotonic() < deadline, "the configure run never finished"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def guest(tmp_path: Path) -> Iterator[Path]:
    """A guest root; startscripts it ran are waited for (then killed) afterwards."""
    root = tmp_path / "guest"
    root.mkdir()
    yield root
    pids_file = root / "pids"
    pids = [int(p) for p in pids_file.read_text().split()] if pids_file.exists() else []
    deadline = time.monotonic() + 3.0
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def with_package(
    root: Path, *, sleep: float = 0, code: int = 0, members: dict[str, str] | None = None
) -> Path:
    path = root / PACKAGE.lstrip("/")
    make_package(
        path,
        members
        if members is not None
        else {"appconfig/startscript": STARTSCRIPT.format(sleep=sleep, code=code)},
    )
    return path


def start(
    root: Path,
    configmeta: str = '{"version": 7}',
    run_id: str = RUN_ID,
    package_url: str | None = PACKAGE_URL,
    injections: tuple[FileInjection, ...] = (),
    *,
    keep_configured: bool = False,
    configure: bool = True,
) -> subprocess.CompletedProcess[str]:
    return run_guest(
        root,
        scripts.start_configure(
            configmeta=configmeta,
            package_url=package_url,
            run_id=run_id,
            injections=injections,
            keep_configured=keep_configured,
            configure=configure,
        ),
    )


def configmeta_file(root: Path) -> Path:
    return root / scripts.CONFIGMETA.lstrip("/")


# ---------------------------------------------------------------- start and poll


def test_start_returns_at_once_and_poll_sees_running_then_done(guest: Path) -> None:
    with_package(guest, sleep=1, code=0)
    began = time.monotonic()
    proc = start(guest)
    assert time.monotonic() - began < 2.0
    assert proc.returncode == 0, proc.stderr
    assert (guest / "opt/guestconfig/appconfig/startscript").is_file()

    assert poll(guest) == ConfigureResult(running=True)
    result = wait_done(guest)
    assert result == ConfigureResult(
        running=False, exit_code=0, stdout="configuring-out", stderr="configuring-err"
    )
    assert (guest / "calls").read_text() == f"{guest}/opt/guestconfig --configure\n"
    status = (guest / scripts.STATUS_FILE.lstrip("/")).read_text()
    assert status == f"{RUN_ID}=0"  # the original's format: no newline, one record


# ---------------------------------------------------------------- crash safety and bounds


def test_starting_the_same_run_again_does_nothing(guest: Path) -> None:
    """An operator that crashed before saving "started" starts the run again: the marker
    in configure.status makes that a no-op, while the run goes on and after it ended."""
    with_package(guest, sleep=1)
    assert start(guest).returncode == 0
    configmeta_file(guest).write_text("kept")
    assert start(guest, configmeta="new").returncode == 0
    assert wait_done(guest).exit_code == 0
    assert start(guest, configmeta="new").returncode == 0
    assert configmeta_file(guest).read_text() == "kept"
    assert (guest / "calls").read_text().count("--configure") == 1
    # another run id (a retry, a new container) does start
    assert start(guest, run_id=f"{RUN_ID}#1").returncode == 0
    assert wait_done(guest, f"{RUN_ID}#1").exit_code == 0
    assert (guest / "calls").read_text().count("--configure") == 2


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.9, 0.99])
def test_a_script_cut_off_in_transit_runs_nothing(guest: Path, cut: float) -> None:
    """An exec whose connection dies mid-script: bash reads the group whole, so a part
    of it does nothing at all (no configmeta, no marker, no run)."""
    with_package(guest)
    script = scripts.start_configure(configmeta="{}", package_url=PACKAGE_URL, run_id=RUN_ID)
    proc = run_guest(guest, script[: int(len(script) * cut)])
    assert proc.returncode != 0
    assert not configmeta_file(guest).exists()
    assert not (guest / scripts.STATUS_FILE.lstrip("/")).exists()
    assert not (guest / "calls").exists()


def test_stop_configure_ends_a_hung_run_with_its_children(guest: Path) -> None:
    with_package(
        guest,
        members={
            "pkg/startscript": (
                '#!/bin/bash\necho $$ >>"$KD_GUEST_ROOT/pids"\n'
                'sleep 300 &\necho $! >>"$KD_GUEST_ROOT/pids"\nwait\n'
            )
        },
    )
    assert start(guest).returncode == 0
    pids_file = guest / "pids"
    deadline = time.monotonic() + 5
    while len(pids_file.read_text().split() if pids_file.exists() else []) < 2:
        assert time.monotonic() < deadline, "the configure run never started"
        time.sleep(0.05)
    pids = [int(p) for p in pids_file.read_text().split()]
    assert poll(guest).running
    assert run_guest(guest, scripts.stop_configure()).returncode == 0
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, "the hung configure run was not stopped"
        time.sleep(0.05)
    # its wrapper went with it: the overrun is recorded by the operator, not the guest
    assert poll(guest).running


def test_notify_is_stopped_at_its_timeout(guest: Path) -> None:
    with_package(
        guest,
        members={
            "pkg/startscript": (
                '#!/bin/bash\n[ "$1" = --configure ] && exit 0\necho $$ >>"$KD_GUEST_ROOT/pids"\n'
                "sleep 300\n"
            )
        },
    )
    assert start(guest).returncode == 0
    wait_done(guest)
    began = time.monotonic()
    proc = run_guest(
        guest, scripts.notify(configmeta="{}", arguments=["--addnodes"], timeout=1), timeout=20
    )
    assert proc.returncode == 124  # timeout(1)'s code for "timed out"
    assert time.monotonic() - began < 10


def test_start_returns_at_once_with_stdin_left_open(guest: Path) -> None:
    """An exec's stdin may never be closed: the script's own `exit` ends it."""
    with_package(guest, sleep=1)
    script = scripts.start_configure(configmeta="{}", package_url=PACKAGE_URL, run_id=RUN_ID)
    env = {**os.environ, "KD_GUEST_ROOT": str(guest)}
    began = time.monotonic()
    with subprocess.Popen(
        ["bash", "-s"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdin is not None
        proc.stdin.write(script.encode())
        proc.stdin.flush()
        try:
            code = proc.wait(timeout=3)
        finally:
            proc.kill()
    assert code == 0
    assert time.monotonic() - began < 2.0
    assert wait_done(guest).exit_code == 0


def test_failed_configure_reports_its_code_and_output_tails(guest: Path) -> None:
    long_out = "x" * 500 + "END-OUT"
    long_err = "y" * 500 + "END-ERR"
    with_package(
        guest,
        members={
            "pkg/startscript": (f"#!/bin/bash\necho {long_out}\necho {long_err} >&2\nexit 7\n")
        },
    )
    assert start(guest).returncode == 0
    result = wait_done(guest, max_chars=40)
    assert result.exit_code == 7
    assert result.stdout.endswith("END-OUT") and len(result.stdout) <= 40
    assert result.stderr.endswith("END-ERR") and len(result.stderr) <= 40
    full = wait_done(guest, max_chars=10_000)
    assert full.stdout == long_out and full.stderr == long_err


def write_status(root: Path, text: str) -> Path:
    status = root / scripts.STATUS_FILE.lstrip("/")
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(text)
    return status


@pytest.mark.parametrize(
    ("record", "run_id", "expected"),
    [
        # The original's records: `<containerID>=<code>`, no newline.
        (f"{RUN_ID}=7", RUN_ID, 7),
        (f"{RUN_ID}=0", RUN_ID, 0),
        (f"{RUN_ID}=", RUN_ID, None),
        (f"{RUN_ID}#1=0", f"{RUN_ID}#1", 0),
        ("pod-uid/0/2026-11-27T07:00:00Z=5", "pod-uid/0/2026-11-27T07:00:00Z", 5),
        # Another run's record, or none that parses: not this run's outcome.
        (f"{RUN_ID}=0", f"{RUN_ID}#2", None),
        (f"{RUN_ID}=0", "containerd://0123", None),
        ("garbage", RUN_ID, None),
    ],
)
def test_poll_reads_the_record_of_its_own_run(
    guest: Path, record: str, run_id: str, expected: int | None
) -> None:
    write_status(guest, record)
    result = poll(guest, run_id)
    assert result.running is (expected is None)
    assert result.exit_code == expected


def test_a_run_the_original_started_is_recognised(guest: Path) -> None:
    """An adopted member whose `--configure` the original started in this container:
    ours starts nothing, and reads the original's outcome when it lands."""
    with_package(guest)
    status = write_status(guest, f"{RUN_ID}=")
    assert start(guest).returncode == 0
    assert not (guest / "calls").exists()
    assert poll(guest).running
    status.write_text(f"{RUN_ID}=0")
    assert poll(guest).exit_code == 0


def test_the_originals_reading_of_our_record(guest: Path) -> None:
    """The original splits at the last `=`: it finds our container ID and code."""
    with_package(guest)
    assert start(guest).returncode == 0
    wait_done(guest)
    text = (guest / scripts.STATUS_FILE.lstrip("/")).read_text()
    container_id, _, code = text.rpartition("=")
    assert (container_id, code) == (RUN_ID, "0")


def test_a_previous_release_status_file_still_decides_after_a_restart(guest: Path) -> None:
    """Our earlier releases appended `<id>=` and `<id>=<code>` lines."""
    with_package(guest)
    write_status(guest, "first=\nfirst=0\n")
    proc = start(guest, configmeta="{}", run_id="second", keep_configured=True)
    assert proc.returncode == 0, proc.stderr
    assert wait_done(guest, run_id="second").exit_code == 0
    assert not (guest / "calls").exists()


def test_an_event_list_without_configure_unpacks_but_runs_nothing(guest: Path) -> None:
    with_package(guest)
    proc = start(guest, configmeta="{}", run_id=RUN_ID, configure=False)
    assert proc.returncode == 0, proc.stderr
    assert (guest / "opt/guestconfig/appconfig/startscript").is_file()
    assert not (guest / "calls").exists()
    assert not (guest / scripts.STATUS_FILE.lstrip("/")).exists()


def test_journald_wait_changes_nothing_until_journald_is_up(guest: Path, tmp_path: Path) -> None:
    """systemd apps: the start exits NOT_READY_EXIT while `systemctl status
    systemd-journald` fails, and goes ahead once it succeeds."""
    with_package(guest)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    script = scripts.start_configure(
        configmeta="{}", package_url=PACKAGE_URL, run_id=RUN_ID, wait_for_journald=True
    )
    env = {**os.environ, "KD_GUEST_ROOT": str(guest), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for code in (3, 0):
        systemctl.write_text(f'#!/bin/sh\necho "$@"\nexit {code}\n')
        systemctl.chmod(0o755)
        proc = subprocess.run(
            ["bash", "-s"],
            input=script,
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=False,
        )
        if code:
            assert proc.returncode == scripts.NOT_READY_EXIT
            assert not configmeta_file(guest).exists()
    assert proc.returncode == 0, proc.stderr
    assert wait_done(guest).exit_code == 0
    assert (guest / "tmp/journald-status.out").read_text() == "status systemd-journald\n"


def test_poll_with_no_status_file_is_running(guest: Path) -> None:
    assert poll(guest) == ConfigureResult(running=True)


def test_start_with_a_fallback_identity_run_id(guest: Path) -> None:
    with_package(guest)
    run_id = "0b6c1c1e-uid/2/2026-11-27T07:00:00Z#3"
    assert start(guest, run_id=run_id).returncode == 0
    assert wait_done(guest, run_id=run_id).exit_code == 0


# ---------------------------------------------------------------- configmeta


@pytest.mark.parametrize(
    "content",
    [
        '{"version": 7, "cluster": {"name": "spark", "config_metadata": {"a": "it\'s \\"q\\""}}}',
        "dollars $HOME ${KD_GUEST_ROOT} $(echo pwned) `echo pwned` \\n \\\\ end",
        "KD_EOF_7f3a\nline after the marker\nKD_EOF_7f3a_\n'KD_EOF_7f3a'",
        "",
        "multi\n\nline\n",
    ],
)
def test_configmeta_is_written_verbatim(guest: Path, content: str) -> None:
    with_package(guest)
    proc = start(guest, configmeta=content)
    assert proc.returncode == 0, proc.stderr
    assert configmeta_file(guest).read_text() == content + "\n"
    assert not (guest / "pwned").exists()
    assert wait_done(guest).exit_code == 0


def test_configmeta_marker_cannot_end_the_heredoc_early(guest: Path) -> None:
    """A line equal to the marker inside the content must not run what follows."""
    content = 'KD_EOF_7f3a\ntouch "$R/pwned"\nKD_EOF_7f3a_\ntouch "$R/pwned"'
    with_package(guest)
    assert start(guest, configmeta=content).returncode == 0
    assert configmeta_file(guest).read_text() == content + "\n"
    assert not (guest / "pwned").exists()
    wait_done(guest)


# ---------------------------------------------------------------- failures


def test_missing_package(guest: Path) -> None:
    proc = start(guest)
    assert proc.returncode == 95
    assert f"setup package {PACKAGE_URL}: no such file in the container" in proc.stderr
    assert not (guest / scripts.STATUS_FILE.lstrip("/")).exists()


def test_package_that_is_not_a_tgz(guest: Path) -> None:
    path = guest / PACKAGE.lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_text("this is not a tarball\n")
    proc = start(guest)
    assert proc.returncode == 94
    assert f"setup package {PACKAGE_URL}: not a gzipped tar" in proc.stderr


def test_package_without_startscript(guest: Path) -> None:
    with_package(guest, members={"appconfig/README": "no startscript here\n"})
    proc = start(guest)
    assert proc.returncode == 97
    assert "no */startscript in the setup package" in proc.stderr
    assert not (guest / scripts.STATUS_FILE.lstrip("/")).exists()


def test_unreachable_http_package(guest: Path) -> None:
    proc = start(guest, package_url="http://127.0.0.1:9/appconfig.tgz")
    assert proc.returncode == 95
    assert "http://127.0.0.1:9/appconfig.tgz: could not be fetched" in proc.stderr


@pytest.mark.parametrize("name", ['my pkg $HOME "q" `id` $(id).tgz', "it's.tgz"])
def test_package_path_is_taken_literally(guest: Path, name: str) -> None:
    path = f"/opt/configscripts/{name}"
    make_package(
        guest / path.lstrip("/"), {"appconfig/startscript": STARTSCRIPT.format(sleep=0, code=0)}
    )
    proc = start(guest, package_url=f"file://{path}")
    assert proc.returncode == 0, proc.stderr
    assert wait_done(guest).exit_code == 0


def test_missing_package_with_shell_characters_in_its_url(guest: Path) -> None:
    url = 'file:///opt/$nope/"q"/`id`.tgz'
    proc = start(guest, package_url=url)
    assert proc.returncode == 95
    assert f"setup package {url}: no such file in the container" in proc.stderr


# ---------------------------------------------------------------- file injections


def test_file_injection_is_fetched_with_its_mode(guest: Path, tmp_path: Path) -> None:
    source = guest / "image" / "inject.conf"  # file:// names a file in the container
    source.parent.mkdir()
    source.write_text("injected\n")
    with_package(guest)
    inj = FileInjection(
        src_url="file:///image/inject.conf", dest_dir="/etc/my conf/", file_mode="600"
    )
    proc = start(guest, injections=(inj,))
    assert proc.returncode == 0, proc.stderr
    target = guest / "etc/my conf/inject.conf"
    assert target.read_text() == "injected\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    wait_done(guest)


def test_failed_file_injection_stops_the_setup(guest: Path, tmp_path: Path) -> None:
    with_package(guest)
    inj = FileInjection(src_url=f"file://{tmp_path}/missing.conf", dest_dir="/etc")
    proc = start(guest, injections=(inj,))
    assert proc.returncode == 96
    assert f"file injection 0: could not fetch file://{tmp_path}/missing.conf" in proc.stderr
    assert not configmeta_file(guest).exists()


# ---------------------------------------------------------------- notify


def test_notify_runs_the_startscript_and_refreshes_configmeta(guest: Path) -> None:
    with_package(guest)
    assert start(guest, configmeta="old").returncode == 0
    wait_done(guest)
    (guest / "calls").unlink()
    args = ("--addnodes", "--nodegroup", "1", "--role", "worker", "--fqdns", "a.x,b.x")
    proc = run_guest(guest, scripts.notify(configmeta='{"new": "$x"}', arguments=args))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"notified {' '.join(args)}\n"
    assert proc.stderr == "notify-err\n"
    assert (guest / "seen-configmeta").read_text() == '{"new": "$x"}\n'
    assert configmeta_file(guest).read_text() == '{"new": "$x"}\n'
    assert (guest / "calls").read_text() == f"{guest}/opt/guestconfig {' '.join(args)}\n"


def test_notify_returns_the_startscript_exit_code(guest: Path) -> None:
    with_package(guest)
    assert start(guest).returncode == 0
    wait_done(guest)
    proc = run_guest(guest, scripts.notify(configmeta="{}", arguments=("--delnodes",)))
    assert proc.returncode == 3


def test_notify_keeps_arguments_as_single_words(guest: Path) -> None:
    with_package(
        guest,
        members={"pkg/startscript": ('#!/bin/bash\nfor a in "$@"; do echo "[$a]"; done\nexit 0\n')},
    )
    assert start(guest).returncode == 0
    wait_done(guest)
    proc = run_guest(
        guest, scripts.notify(configmeta="{}", arguments=("--role", "a b", "$HOME", "`id`"))
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[--role]\n[a b]\n[$HOME]\n[`id`]\n"


def test_notify_without_an_unpacked_package(guest: Path) -> None:
    proc = run_guest(guest, scripts.notify(configmeta="{}", arguments=("--reconnect",)))
    assert proc.returncode == 97
    assert "no */startscript" in proc.stderr
    assert configmeta_file(guest).read_text() == "{}\n"


# ---------------------------------------------------------------- every script ends with exit


def _all_scripts() -> list[str]:
    inj = FileInjection(
        src_url="https://example.com/a.conf",
        dest_dir="/etc",
        file_mode="644",
        file_owner="root",
        file_group="root",
    )
    return [
        scripts.start_configure(configmeta="{}", package_url=PACKAGE_URL, run_id=RUN_ID),
        scripts.start_configure(
            configmeta="exit",
            package_url="https://example.com/p.tgz",
            run_id=RUN_ID,
            injections=(inj,),
        ),
        scripts.poll_configure(run_id=RUN_ID, max_chars=10),
        scripts.notify(configmeta="{}", arguments=("--reconnect",)),
        scripts.notify(configmeta="{}", arguments=()),
    ]


@pytest.mark.parametrize("script", _all_scripts())
def test_every_script_ends_with_exit(script: str) -> None:
    assert script.endswith("\n")
    assert script.rstrip("\n").splitlines()[-1].split()[0] == "exit"
    assert _ENDS_WITH_EXIT.search(script)


def test_poll_exits_with_stdin_left_open(guest: Path) -> None:
    env = {**os.environ, "KD_GUEST_ROOT": str(guest)}
    with subprocess.Popen(
        ["bash", "-s"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(scripts.poll_configure(run_id=RUN_ID, max_chars=5).encode())
        proc.stdin.flush()
        try:
            assert proc.wait(timeout=3) == 0
        finally:
            proc.kill()
        assert proc.stdout.read().decode() == f"{scripts.MARK_RUNNING}\n"


# ---------------------------------------------------------------- parse_poll


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("", ConfigureResult(running=True)),
        ("KD-CONFIGURE-RUNNING\n", ConfigureResult(running=True)),
        ("  KD-CONFIGURE-RUNNING  \n", ConfigureResult(running=True)),
        (
            "KD-CONFIGURE-DONE 0\nKD-STDOUT\n\nKD-STDERR\n\n",
            ConfigureResult(running=False, exit_code=0),
        ),
        (
            "KD-CONFIGURE-DONE -3\nKD-STDOUT\nout\nKD-STDERR\nerr\n",
            ConfigureResult(running=False, exit_code=-3, stdout="out", stderr="err"),
        ),
        (
            "KD-CONFIGURE-DONE 137\nKD-STDOUT\na\nb\n\nKD-STDERR\n\n",
            ConfigureResult(running=False, exit_code=137, stdout="a\nb"),
        ),
        ("KD-CONFIGURE-DONE\n", ConfigureResult(running=False, exit_code=-1)),
        ("KD-CONFIGURE-DONE abc\n", ConfigureResult(running=False, exit_code=-1)),
        ("KD-CONFIGURE-DONE --3\n", ConfigureResult(running=False, exit_code=-1)),
        ("KD-CONFIGURE-DONE \u00b2\n", ConfigureResult(running=False, exit_code=-1)),
        ("KD-CONFIGURE-DONE 1 2\n", ConfigureResult(running=False, exit_code=-1)),
        ("garbage\n", ConfigureResult(running=False, exit_code=-1)),
    ],
)
def test_parse_poll_cases(output: str, expected: ConfigureResult) -> None:
    assert parse_poll(output) == expected


_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_tail = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters=_LINE_BREAKS)
).filter(lambda t: scripts.MARK_STDERR not in t.splitlines())


@given(code=st.integers(min_value=-(2**31), max_value=2**31), out=_tail, err=_tail)
def test_parse_poll_reads_what_the_poll_script_prints(code: int, out: str, err: str) -> None:
    output = (
        f"{scripts.MARK_DONE} {code}\n{scripts.MARK_STDOUT}\n{out}\n{scripts.MARK_STDERR}\n{err}\n"
    )
    assert parse_poll(output) == ConfigureResult(
        running=False, exit_code=code, stdout=out.strip("\n"), stderr=err.strip("\n")
    )


@given(st.text())
@example("KD-CONFIGURE-DONE --3")
@example("KD-CONFIGURE-DONE \u0663")
@example("KD-CONFIGURE-DONE -")
def test_parse_poll_never_raises(output: str) -> None:
    result = parse_poll(output)
    lines = output.splitlines()
    assert result.running == (not lines or lines[0].strip() == scripts.MARK_RUNNING)
    if result.running:
        assert result == ConfigureResult(running=True)
    else:
        assert isinstance(result.exit_code, int)
        if not lines[0].strip().startswith(scripts.MARK_DONE):
            assert result.exit_code == -1


# ---------------------------------------------------------------- no package, restarts


def test_without_a_package_only_injections_and_configmeta_are_written(guest: Path) -> None:
    source = guest / "image" / "motd"
    source.parent.mkdir()
    source.write_text("hello\n")
    inj = FileInjection(src_url="file:///image/motd", dest_dir="/etc")
    proc = start(guest, configmeta='{"v": 1}', package_url=None, injections=(inj,))
    assert proc.returncode == 0, proc.stderr
    assert (guest / "etc/motd").read_text() == "hello\n"
    assert configmeta_file(guest).read_text() == '{"v": 1}\n'
    assert wait_done(guest) == ConfigureResult(running=False, exit_code=0)
    assert not (guest / "calls").exists(), "no startscript ran"


def test_keep_configured_skips_configure_after_an_earlier_success(guest: Path) -> None:
    with_package(guest)
    assert start(guest, run_id="first").returncode == 0
    assert wait_done(guest, run_id="first").exit_code == 0
    (guest / "calls").unlink()
    proc = start(guest, configmeta="{}", run_id="second", keep_configured=True)
    assert proc.returncode == 0, proc.stderr
    assert wait_done(guest, run_id="second").exit_code == 0
    assert not (guest / "calls").exists(), "the persisted status decided"


def test_keep_configured_still_configures_when_nothing_succeeded_before(guest: Path) -> None:
    with_package(guest)
    proc = start(guest, configmeta="{}", run_id="only", keep_configured=True)
    assert proc.returncode == 0, proc.stderr
    assert wait_done(guest, run_id="only").exit_code == 0
    assert (guest / "calls").read_text() == f"{guest}/opt/guestconfig --configure\n"


def test_notify_without_arguments_only_refreshes_configmeta(guest: Path) -> None:
    with_package(guest)
    proc = run_guest(guest, scripts.notify(configmeta='{"new": true}', arguments=()))
    assert proc.returncode == 0, proc.stderr
    assert configmeta_file(guest).read_text() == '{"new": true}\n'
    assert not (guest / "calls").exists()


def test_keep_configured_follows_the_latest_outcome_not_any_earlier_success(guest: Path) -> None:
    with_package(guest)
    write_status(guest, "retry#1=7")
    proc = start(guest, configmeta="{}", run_id="after-restart", keep_configured=True)
    assert proc.returncode == 0, proc.stderr
    assert wait_done(guest, run_id="after-restart").exit_code == 0
    assert (guest / "calls").read_text() == f"{guest}/opt/guestconfig --configure\n", (
        "the last run failed, so setup runs again"
    )


def test_polling_a_running_setup_starts_no_process(tmp_path: Path) -> None:
    """A poll runs every couple of seconds per member while `--configure` goes: it
    answers with bash builtins only (every program on PATH here records its call)."""
    root = tmp_path / "guest"
    write_status(root, f"{RUN_ID}=")
    tools, calls = tmp_path / "tools", tmp_path / "calls"
    tools.mkdir()
    for name in ("cat", "head", "ls", "tail", "dirname", "mkdir", "grep", "awk", "sed"):
        (tools / name).write_text(f'#!/bin/sh\necho {name} >>"{calls}"\n')
        (tools / name).chmod(0o755)
    proc = subprocess.run(
        ["/bin/bash", "-s"],
        input=scripts.poll_configure(run_id=RUN_ID, max_chars=64),
        capture_output=True,
        text=True,
        env={"KD_GUEST_ROOT": str(root), "PATH": str(tools)},
        timeout=10,
        check=False,
    )
    assert (proc.returncode, parse_poll(proc.stdout)) == (0, ConfigureResult(running=True))
    assert not calls.exists(), calls.read_text()
