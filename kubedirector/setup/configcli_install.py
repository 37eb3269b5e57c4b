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
import json
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


def plan(layout: Layout) -> str:
    """What the installer does for `layout`, with the module files, as one shell-safe
    word (zlib-compressed JSON, base64: about a third of the files' size)."""
    document = {
        "bin": NEW_BIN if layout is Layout.NEW else LEGACY_BIN,
        "user_site": layout is Layout.NEW,
        "log": INSTALL_LOG,
        "entries": [list(entry) for entry in ENTRY_POINTS],
        "links": list(LINKS),
        "files": package_files(),
    }
    packed = zlib.compress(json.dumps(document, sort_keys=True).encode(), 9)
    return base64.b64encode(packed).decode("ascii")


@functools.cache
def fragment(layout: Layout) -> str:
    """Bash for the setup script: install configcli unless present; fails with exit 93.

    The member's interpreters are tried in order (python, python3, python2); the
    first that runs the installer does the whole install in one process."""
    user_base = "PYTHONUSERBASE=/usr/local " if layout is Layout.NEW else ""
    legacy_links = ""
    if layout is Layout.NEW:
        targets = [("configcli", link) for link in (*LINKS, "configcli")]
        targets += [("ccli", "ccli"), ("configmacro", "configmacro")]
        legacy_links = (
            f'  if [ -f "$R{NEW_BIN}/configcli" ]; then mkdir -p "$R{LEGACY_BIN}"'
            + "".join(
                f' && ln -sf "$R{NEW_BIN}/{src}" "$R{LEGACY_BIN}/{dst}"' for src, dst in targets
            )
            + " || return 1; fi\n"
        )
    return "".join(
        [
            'kd_configcli() {\n  local c p rc done=""\n',
            '  mkdir -p "$R/var/log/guestconfig" "$R/opt/guestconfig" || return 1\n',
            f'  if [ ! -f "$R{NEW_BIN}/configcli" ] && [ ! -f "$R{LEGACY_BIN}/configcli" ]; then\n',
            "  for c in python python3 python2; do\n",
            '    p="$(command -v "$c" 2>/dev/null)" || continue\n',
            f'    {user_base}"$p" -S - "$R" "$p" {plan(layout)} <<\'{_MARKER}\'\n',
            _installer(),
            f"{_MARKER}\n",
            "    rc=$?\n",
            '    if [ "$rc" = 0 ]; then done=1; break; fi\n',
            f'    if [ "$rc" = {INSTALLER_FAILED} ]; then return 1; fi\n',
            "  done\n",
            '  if [ -z "$done" ]; then\n'
            f'    echo "configcli not installed: no python 2.7 or 3.6+ in the image" '
            f'>"$R{INSTALL_LOG}"\n'
            "    return 0\n  fi\n",
            "  fi\n",
            legacy_links,
            "}\n",
            'kd_configcli || { echo "configcli could not be installed" >&2; '
            f"exit {EXIT_FAILED}; }}\n",
        ]
    )
