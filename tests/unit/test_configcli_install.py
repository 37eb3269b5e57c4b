"""The configcli install step (upstream-pods.md 2.3 step 7), run with bash in a temp guest root."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from sys import executable

import pytest

from kubedirector.setup import configcli_install, scripts
from kubedirector.setup.configcli_install import Layout
from tests.unit.guest_root import make_package, run_guest
from tests.unit.test_configcli import GUEST_PYTHON, SAMPLE, install

pytestmark = pytest.mark.unit

GUEST_PACKAGE = Path(configcli_install.__file__).parents[1] / "guest" / "configcli"
NEW_LINKS = {
    "bdvcli": "configcli",
    "bd_vcli": "configcli",
    "configcli": "configcli",
    "ccli": "ccli",
    "configmacro": "configmacro",
}


def query(root: Path, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    (root / "etc/guestconfig").mkdir(parents=True, exist_ok=True)
    (root / "etc/guestconfig/configmeta.json").write_text(SAMPLE.read_text())
    return subprocess.run(
        [str(root / command.lstrip("/")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "KD_GUEST_ROOT": str(root)},
        timeout=30,
        check=False,
    )


def installed_lib(root: Path) -> Path:
    """The module folder the install log names."""
    log = (root / configcli_install.INSTALL_LOG.lstrip("/")).read_text()
    return root / log.rsplit(" in ", 1)[1].strip().lstrip("/") / "configcli"


def test_new_layout_places_commands_module_and_links(tmp_path: Path) -> None:
    root = tmp_path / "guest"
    proc = install(root, Layout.NEW)
    assert proc.returncode == 0, proc.stderr
    local = root / "usr/local/bin"
    for name in ("configcli", "ccli", "configmacro"):
        assert (local / name).is_file() and os.access(local / name, os.X_OK)
    for name in ("bdvcli", "bd_vcli"):
        assert os.readlink(local / name) == str(local / "configcli")
    for name, target in NEW_LINKS.items():
        assert os.readlink(root / "usr/bin" / name) == str(local / target)
    lib = installed_lib(root)
    assert "/usr/local/lib/python" in str(lib)  # the user site under PYTHONUSERBASE=/usr/local
    assert {p.name: p.read_text() for p in lib.glob("*.py")} == {
        p.name: p.read_text() for p in GUEST_PACKAGE.glob("*.py")
    }
    assert query(root, "/usr/bin/bd_vcli", "--get", "node.role_id").stdout == "worker\n"
    assert (root / "var/log/guestconfig").is_dir()


def test_legacy_layout_installs_into_usr_bin(tmp_path: Path) -> None:
    root = tmp_path / "guest"
    proc = install(root, Layout.LEGACY)
    assert proc.returncode == 0, proc.stderr
    assert not (root / "usr/local/bin").exists()
    for name in ("configcli", "ccli", "configmacro"):
        assert (root / "usr/bin" / name).is_file()
    assert os.readlink(root / "usr/bin/bdvcli") == str(root / "usr/bin/configcli")
    assert "/usr/local/lib/python" not in str(installed_lib(root))
    assert query(root, "/usr/bin/bd_vcli", "--get", "node.id").stdout == "3\n"


def test_a_present_copy_is_kept_and_linked(tmp_path: Path) -> None:
    """As the original: a configcli already there (a pod it configured, or a restart
    with a persistent volume) is not replaced; the new layout's links are re-made."""
    root = tmp_path / "guest"
    theirs = root / "usr/local/bin/configcli"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\necho theirs\n")
    theirs.chmod(0o755)
    assert install(root, Layout.NEW).returncode == 0
    assert theirs.read_text() == "#!/bin/sh\necho theirs\n"
    assert not (root / "usr/local/bin/ccli").exists()
    assert os.readlink(root / "usr/bin/bd_vcli") == str(theirs)
    assert query(root, "/usr/bin/bd_vcli").stdout == "theirs\n"


def test_a_copy_in_usr_bin_is_kept_without_links(tmp_path: Path) -> None:
    root = tmp_path / "guest"
    theirs = root / "usr/bin/configcli"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\necho theirs\n")
    assert install(root, Layout.NEW).returncode == 0
    assert theirs.read_text() == "#!/bin/sh\necho theirs\n" and not theirs.is_symlink()
    assert not (root / "usr/local/bin/configcli").exists()


def test_installing_again_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "guest"
    assert install(root, Layout.NEW).returncode == 0
    entry = root / "usr/local/bin/configcli"
    before = entry.stat().st_mtime_ns
    (root / "usr/bin/bd_vcli").unlink()  # /usr/bin is not on the persistent volume
    time.sleep(0.01)
    assert install(root, Layout.NEW).returncode == 0
    assert entry.stat().st_mtime_ns == before
    assert os.readlink(root / "usr/bin/bd_vcli") == str(entry)


def _path_without_python(tmp_path: Path) -> str:
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in (
        "mkdir",
        "cat",
        "chmod",
        "ln",
        "tar",
        "gzip",
        "cp",
        "ls",
        "head",
        "nohup",
        "dirname",
        "tail",
        "grep",
        "awk",
        "bash",
        "timeout",
    ):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    return str(tools)


def test_an_image_without_python_gets_no_configcli_and_a_note(tmp_path: Path) -> None:
    root = tmp_path / "guest"
    root.mkdir()
    script = (
        'set -u\nR="${KD_GUEST_ROOT:-}"\n'
        + configcli_install.fragment(Layout.NEW)
        + "echo went-on\nexit 0\n"
    )
    proc = subprocess.run(
        [shutil.which("bash") or "bash", "-s"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"KD_GUEST_ROOT": str(root), "PATH": _path_without_python(tmp_path)},
    )
    assert (proc.returncode, proc.stdout) == (0, "went-on\n"), proc.stderr
    assert not (root / "usr/local/bin/configcli").exists()
    assert not (root / "usr/bin").exists()
    assert "no python" in (root / configcli_install.INSTALL_LOG.lstrip("/")).read_text()


def test_a_failed_install_stops_the_setup_with_a_message(tmp_path: Path) -> None:
    root = tmp_path / "guest"
    (root / "usr/local").mkdir(parents=True)
    (root / "usr/local/bin").write_text("not a directory")
    proc = install(root, Layout.NEW)
    assert proc.returncode == configcli_install.EXIT_FAILED
    assert "configcli could not be installed" in proc.stderr


def test_the_installed_python_is_recorded_in_the_commands(tmp_path: Path) -> None:
    root = tmp_path / "guest"
    assert install(root, Layout.NEW).returncode == 0
    first = (root / "usr/local/bin/configcli").read_text().splitlines()[0]
    assert Path(first[2:]).resolve() == Path(GUEST_PYTHON).resolve()


def test_heredoc_marker_in_the_installer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configcli_install, "_MARKER", "sys.exit")
    configcli_install.fragment.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"install_configcli\.py"):
            configcli_install.fragment(Layout.NEW)
    finally:
        configcli_install.fragment.cache_clear()


def test_a_nul_in_a_module_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """NUL separates the packed files, so a module holding one could not be unpacked."""
    files = configcli_install.package_files()
    monkeypatch.setattr(configcli_install, "package_files", lambda: {**files, "x.py": "a\0b\n"})
    with pytest.raises(ValueError, match="NUL"):
        configcli_install.packed_files()


def test_the_script_carries_the_modules_compressed() -> None:
    """The modules travel as one compressed word, so the script is a fraction of
    their size (it goes through the exec's stdin for every member)."""
    size = sum(len(text) for text in configcli_install.package_files().values())
    for layout in Layout:
        assert len(configcli_install.packed_files()) < size / 2
        assert len(configcli_install.fragment(layout)) < size * 0.6


def test_one_interpreter_process_does_the_install(tmp_path: Path) -> None:
    """An interpreter's start-up is most of the install's cost: it starts once."""
    calls = tmp_path / "calls"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >>"{calls}"\nexec {GUEST_PYTHON} "$@"\n')
    wrapper.chmod(0o755)
    root = tmp_path / "guest"
    proc = install(root, Layout.NEW, python=str(wrapper))
    assert proc.returncode == 0, proc.stderr
    assert calls.read_text().splitlines() == ["-S"]  # no site start-up either
    assert query(root, "/usr/bin/bd_vcli", "--get", "node.role_id").stdout == "worker\n"


def install_on_path(
    root: Path, layout: Layout, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run the install step alone in `root` (made here) with exactly `env` (its PATH
    decides which interpreters and tools the guest has)."""
    root.mkdir(parents=True)
    script = 'set -u\nR="${KD_GUEST_ROOT:-}"\n' + configcli_install.fragment(layout)
    return subprocess.run(
        ["/bin/bash", "-s"],
        input=script + "exit 0\n",
        capture_output=True,
        text=True,
        env={**env, "KD_GUEST_ROOT": str(root)},
        timeout=60,
        check=False,
    )


def test_the_install_starts_no_program_but_the_interpreter(tmp_path: Path) -> None:
    """Every process an exec starts costs about an interpreter's start-up: with only
    `python` on PATH (no mkdir, no ln) the install, links included, is complete."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "python").symlink_to(GUEST_PYTHON)
    root = tmp_path / "guest"
    proc = install_on_path(root, Layout.NEW, {"PATH": str(tools)})
    assert (proc.returncode, proc.stderr) == (0, "")
    for name, target in NEW_LINKS.items():
        assert os.readlink(root / "usr/bin" / name) == str(root / "usr/local/bin" / target)
    assert "configcli installed" in (root / configcli_install.INSTALL_LOG.lstrip("/")).read_text()


def test_an_unsuitable_interpreter_is_passed_over(tmp_path: Path) -> None:
    """`python` too old (the installer says so with its own exit code): python3 installs."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "python").write_text("#!/bin/sh\nexit 3\n")
    (tools / "python").chmod(0o755)
    (tools / "python3").symlink_to(GUEST_PYTHON)
    root = tmp_path / "guest"
    proc = install_on_path(
        root, Layout.LEGACY, {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    )
    assert proc.returncode == 0, proc.stderr
    first = (root / "usr/bin/configcli").read_text().splitlines()[0]
    assert first == f"#!{tools / 'python3'}"


def test_package_files_are_the_guest_modules() -> None:
    files = configcli_install.package_files()
    assert sorted(files) == sorted(p.name for p in GUEST_PACKAGE.glob("*.py"))
    assert {"__init__.py", "__main__.py", "__macro_main__.py", "errors.py"} <= set(files)


# ---------------------------------------------------------------- within the setup script


STARTSCRIPT = """#!/bin/bash
R="${KD_GUEST_ROOT:-}"
if [ "$1" = --configure ]; then
  "$R/usr/bin/bd_vcli" --get node.role_id >"$R/seen-role" || exit 111
  "$R/usr/bin/configcli" --get_all_fqdns >"$R/seen-fqdns" || exit 111
fi
exit 0
"""


def test_setup_package_finds_configcli_when_it_runs(tmp_path: Path) -> None:
    """The install step runs before the package: `--configure` can call configcli."""
    root = tmp_path / "guest"
    make_package(root / "opt/configscripts/appconfig.tgz", {"appconfig/startscript": STARTSCRIPT})
    script = scripts.start_configure(
        configmeta=SAMPLE.read_text(),
        package_url="file:///opt/configscripts/appconfig.tgz",
        run_id="cid",
        configcli=Layout.NEW,
    )
    proc = run_guest(root, script, timeout=60, python=GUEST_PYTHON)
    assert proc.returncode == 0, proc.stderr
    status = root / "opt/guestconfig/configure.status"
    deadline = time.monotonic() + 20
    while not status.exists() or not status.read_text().strip().endswith("=0"):
        assert time.monotonic() < deadline, status.read_text() if status.exists() else "none"
        assert not (status.exists() and status.read_text().strip().endswith("=111"))
        time.sleep(0.05)
    assert (root / "seen-role").read_text() == "worker\n"
    assert (root / "seen-fqdns").read_text().count(".svc.cluster.local") == 3


def test_no_install_without_the_layout() -> None:
    script = scripts.start_configure(configmeta="{}", package_url="file:///p.tgz", run_id="x")
    assert "kd_configcli" not in script
    assert "kd_configcli" not in scripts.start_configure(
        configmeta="{}", package_url=None, run_id="x", configcli=Layout.NEW
    )


# ---------------------------------------------------------------- the installer's site directories

# Where the earlier install (and the original's `setup.py install`) put the module: the
# interpreter's own view after a full site start-up.
_FULL_STARTUP = (
    "import site, sys, sysconfig\n"
    "d = [p for p in getattr(site, 'getsitepackages', list)() if p in sys.path]\n"
    "print(site.USER_SITE)\n"
    "print(d[0] if d else sysconfig.get_paths()['purelib'])\n"
)
_INSTALLER_VIEW = (
    "import sys\n"
    "ns = {'__name__': 'installer'}\n"
    "exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), ns)\n"
    "print(ns['site_dir'](True))\n"
    "print(ns['site_dir'](False))\n"
)


@pytest.mark.parametrize(
    "python",
    # this venv's interpreter, the one it links to (no venv), and the guest's
    sorted({executable, os.path.realpath(executable), GUEST_PYTHON}),
)
def test_the_installer_finds_the_site_directories_a_full_start_up_would(python: str) -> None:
    """The installer runs with `-S` (fast start-up) yet picks the same directories as
    the interpreter started normally, in a virtual environment or not."""
    env = {**os.environ, "PYTHONUSERBASE": "/usr/local"}
    installer = GUEST_PACKAGE.parent / "install_configcli.py"
    full = subprocess.run(
        [python, "-c", _FULL_STARTUP], capture_output=True, text=True, env=env, check=True
    )
    fast = subprocess.run(
        [python, "-S", "-c", _INSTALLER_VIEW, str(installer)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert fast.stdout == full.stdout
    assert fast.stdout.startswith("/usr/local/lib/python")
