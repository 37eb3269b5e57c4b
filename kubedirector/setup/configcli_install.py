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

`fragment` is pure: bash text for the setup script, every path under `$R`
(the guest root, see scripts.py).
"""

from __future__ import annotations

import enum
import functools
from importlib import resources

from kubedirector.api.app import ConfigPackage

NEW_BIN = "/usr/local/bin"
LEGACY_BIN = "/usr/bin"
INSTALL_LOG = "/var/log/guestconfig/configcli-install.log"
# Commands and the module each runs; bdvcli and bd_vcli are links to configcli.
ENTRY_POINTS = (("configcli", "__main__"), ("ccli", "__main__"), ("configmacro", "__macro_main__"))
LINKS = ("bdvcli", "bd_vcli")
EXIT_FAILED = 93
_GUEST_PACKAGE = "kubedirector.guest"
_MARKER = "KD_CONFIGCLI_EOF"

# The interpreter, and where the module goes: the user site under /usr/local
# (the original's `setup.py install --user` with PYTHONUSERBASE=/usr/local), or
# the first system site-packages directory the interpreter searches.
_FIND_PYTHON = """\
py=""
for c in python python3 python2; do
  p="$(command -v "$c" 2>/dev/null)" || continue
  if "$p" -c 'import sys; v = sys.version_info[:2]; \
sys.exit(not ((2, 7) <= v < (3, 0) or v >= (3, 6)))' 2>/dev/null; then py="$p"; break; fi
done
"""
_NEW_SITE = """PYTHONUSERBASE=/usr/local "$py" -c 'import site; print(site.USER_SITE)'"""
_LEGACY_SITE = (
    """"$py" -c 'import site, sys, sysconfig; """
    """d = [p for p in getattr(site, "getsitepackages", list)() if p in sys.path]; """
    """print(d[0] if d else sysconfig.get_paths()["purelib"])'"""
)


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


def _write(name: str, text: str) -> str:
    if _MARKER in text:
        raise ValueError(f"configcli/{name} contains the heredoc marker {_MARKER}")
    body = text if text.endswith("\n") else text + "\n"
    return f"cat >\"$d/{name}\" <<'{_MARKER}'\n{body}{_MARKER}\n"


def fragment(layout: Layout) -> str:
    """Bash for the setup script: install configcli unless present; fails with exit 93."""
    bin_dir = NEW_BIN if layout is Layout.NEW else LEGACY_BIN
    site = _NEW_SITE if layout is Layout.NEW else _LEGACY_SITE
    entries = " ".join(f"{name}:{module}" for name, module in ENTRY_POINTS)
    links = "".join(f' && ln -sf "$R{bin_dir}/configcli" "$R{bin_dir}/{link}"' for link in LINKS)
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
            "kd_configcli() {\n  local py p c lib d e\n",
            '  mkdir -p "$R/var/log/guestconfig" "$R/opt/guestconfig" || return 1\n',
            f'  if [ ! -f "$R{NEW_BIN}/configcli" ] && [ ! -f "$R{LEGACY_BIN}/configcli" ]; then\n',
            _FIND_PYTHON,
            '  if [ -z "$py" ]; then\n'
            f'    echo "configcli not installed: no python 2.7 or 3.6+ in the image" '
            f'>"$R{INSTALL_LOG}"\n'
            "    return 0\n  fi\n",
            f'  lib="$({site})" || return 1\n',
            "  case \"$lib\" in ''|*'\"'*|*\\\\*) return 1 ;; esac\n",
            f'  d="$R$lib/configcli"\n  mkdir -p "$d" "$R{bin_dir}" || return 1\n',
            *(_write(name, text) for name, text in package_files().items()),
            f"  for e in {entries}; do\n"
            '    printf \'#!%s\\nimport sys\\nsys.path.insert(0, "%s")\\n'
            "from configcli.%s import main\\nsys.exit(main())\\n' "
            f'"$py" "$R$lib" "${{e#*:}}" >"$R{bin_dir}/${{e%%:*}}" '
            f'&& chmod 755 "$R{bin_dir}/${{e%%:*}}" || return 1\n'
            "  done\n",
            f"  true{links} || return 1\n",
            f'  echo "configcli installed for $py in $lib" >"$R{INSTALL_LOG}"\n',
            "  fi\n",
            legacy_links,
            "}\n",
            'kd_configcli || { echo "configcli could not be installed" >&2; '
            f"exit {EXIT_FAILED}; }}\n",
        ]
    )
