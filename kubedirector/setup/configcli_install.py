"""Install configcli in a member before its setup package runs (upstream-pods.md 2.3 step 7).

Setup scripts of real app images call `configcli` / `bdvcli` / `bd_vcli` (or
import the `configcli` Python module) to read configmeta, so, like the
original, the operator puts them at the same paths in every member whose role
has a setup package:

- new layout (`useNewSetupLayout: true`): commands in `/usr/local/bin`, the
  module in the user site of `PYTHONUSERBASE=/usr/local`, and the legacy links
  `/usr/bin/{configcli,bdvcli,bd_vcli,ccli,configmacro}` (re-made on every
  setup: `/usr/bin` is not on the persistent volume);
- legacy layout: commands in `/usr/bin`, the module in the system site-packages.

A copy already there (`/usr/local/bin/configcli` or `/usr/bin/configcli`, as
the original checked: a restart with a persistent volume, or a pod configured
by the original operator) is kept. The tool runs on the member's own `python`
(else `python3`, else `python2`; 2.7 or 3.6+); an image with none gets no
configcli, noted in `/var/log/guestconfig/configcli-install.log`, and its setup
goes on (the original failed there).

The install is one process of the member's interpreter running
kubedirector/guest/install_configcli.py, the modules in its arguments
(compressed): an interpreter's start-up is most of an install's cost, and
the script stays small (half the size of the modules) on the exec's stdin.

`fragment` is pure: bash text for the setup script, every path under `$R`
(the guest root, see scripts.py).
"""

from __future__ import annotations

import base64
import enum
import functools
import zlib
from importlib import resources

from kubedirector.api.app import ConfigPackage

NEW_BIN = "/usr/local/bin"
LEGACY_BIN = "/usr/bin"
INSTALL_LOG = "/var/log/guestconfig/configcli-install.log"
# Commands and the module each runs; bdvcli and bd_vcli are links to configcli.
ENTRY_POINTS = (("configcli", "__main__"), ("ccli", "__main__"), ("configmacro", "__macro_main__"))
LINKS = ("bdvcli", "bd_vcli")
EXIT_FAILED = 93
# The installer's exit code when the install itself failed (its EXIT_FAILED);
# any other failure means that interpreter cannot run configcli: try the next.
INSTALLER_FAILED = 4
_GUEST_PACKAGE = "kubedirector.guest"
_INSTALLER = "install_configcli.py"
_MARKER = "KD_CONFIGCLI_EOF"


class Layout(enum.Enum):
    """Where the original put configcli, by the setup package's `useNewSetupLayout`."""

    NEW = "new"
    LEGACY = "legacy"

    @classmethod
    def of(cls, package: ConfigPackage) -> Layout:
        return cls.NEW if package.use_new_setup_layout else cls.LEGACY


@functools.cache
def package_files() -> dict[str, str]:
    """The guest tool's modules (file name -> text), shipped as package data."""
    folder = resources.files(_GUEST_PACKAGE).joinpath("configcli")
    return {
        f.name: f.read_text(encoding="utf-8")
        for f in sorted(folder.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".py")
    }


def _installer() -> str:
    """The guest-side installer's source (kubedirector/guest/install_configcli.py)."""
    text = resources.files(_GUEST_PACKAGE).joinpath(_INSTALLER).read_text(encoding="utf-8")
    if _MARKER in text:
        raise ValueError(f"{_INSTALLER} contains the heredoc marker {_MARKER}")
    return text if text.endswith("\n") else text + "\n"


def packed_files() -> str:
    """The module files as one shell-safe word, as the installer reads them: base64 of
    zlib-compressed `name NUL text NUL ...` (about a third of the files' size)."""
    parts = [p for name, text in package_files().items() for p in (name, text)]
    if any("\0" in p for p in parts):
        raise ValueError("a configcli module holds a NUL character")
    packed = zlib.compress("\0".join(parts).encode(), 9)
    return base64.b64encode(packed).decode("ascii")


def _aliases(layout: Layout) -> tuple[tuple[str, str], ...]:
    """(path, target) of the new layout's legacy links in /usr/bin; none in the legacy one."""
    if layout is not Layout.NEW:
        return ()
    targets = [("configcli", link) for link in (*LINKS, "configcli")]
    targets += [("ccli", "ccli"), ("configmacro", "configmacro")]
    return tuple((f"{LEGACY_BIN}/{dst}", f"{NEW_BIN}/{src}") for src, dst in targets)


def installer_args(layout: Layout) -> str:
    """The installer's arguments after ROOT and PYTHON (see install_configcli.py)."""
    bin_dir, site = (NEW_BIN, "user") if layout is Layout.NEW else (LEGACY_BIN, "system")
    commands = ",".join(f"{name}:{module}" for name, module in ENTRY_POINTS)
    aliases = ",".join(f"{path}={target}" for path, target in _aliases(layout)) or "-"
    return " ".join(
        [bin_dir, site, INSTALL_LOG, commands, ",".join(LINKS), aliases, packed_files()]
    )


# `kd_which NAME` sets `p` to NAME's path on PATH, as `command -v` would, without
# the process a `$(...)` costs.
_WHICH = (
    "kd_which() {\n"
    '  local d IFS=:\n  p=""\n'
    "  for d in ${PATH:-}; do\n"
    '    if [ -n "$d" ] && [ -f "$d/$1" ] && [ -x "$d/$1" ]; then p="$d/$1"; return 0; fi\n'
    "  done\n  return 1\n}\n"
)


@functools.cache
def fragment(layout: Layout) -> str:
    """Bash for the setup script: install configcli unless present; fails with exit 93.

    The member's interpreters are tried in order (python, python3, python2); the
    first that runs the installer does the whole install in one process, links
    included: every other process an exec starts costs about as much as the
    interpreter's start-up.  A copy already there only gets the new layout's
    `/usr/bin` links re-made (that directory is not on a persistent volume)."""
    user_base = "PYTHONUSERBASE=/usr/local " if layout is Layout.NEW else ""
    relink = ""
    if _aliases(layout):
        relink = (
            f'  elif [ -f "$R{NEW_BIN}/configcli" ]; then mkdir -p "$R{LEGACY_BIN}"'
            + "".join(f' && ln -sf "$R{target}" "$R{path}"' for path, target in _aliases(layout))
            + " || return 1\n"
        )
    return "".join(
        [
            _WHICH,
            'kd_configcli() {\n  local c p rc done=""\n',
            f'  if [ ! -f "$R{NEW_BIN}/configcli" ] && [ ! -f "$R{LEGACY_BIN}/configcli" ]; then\n',
            "  for c in python python3 python2; do\n",
            '    kd_which "$c" || continue\n',
            f'    {user_base}"$p" -S - "$R" "$p" {installer_args(layout)} <<\'{_MARKER}\'\n',
            _installer(),
            f"{_MARKER}\n",
            "    rc=$?\n",
            '    if [ "$rc" = 0 ]; then done=1; break; fi\n',
            f'    if [ "$rc" = {INSTALLER_FAILED} ]; then return 1; fi\n',
            "  done\n",
            '  if [ -z "$done" ]; then\n'
            f'    mkdir -p "$R{INSTALL_LOG.rsplit("/", 1)[0]}" || return 1\n'
            f'    echo "configcli not installed: no python 2.7 or 3.6+ in the image" '
            f'>"$R{INSTALL_LOG}"\n'
            "  fi\n",
            relink,
            "  fi\n",
            "}\n",
            'kd_configcli || { echo "configcli could not be installed" >&2; '
            f"exit {EXIT_FAILED}; }}\n",
        ]
    )
