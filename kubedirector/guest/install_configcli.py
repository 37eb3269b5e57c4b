"""Install configcli in this member: run by the member's own python (2.7 or 3.6+).

The setup script (kubedirector/setup/configcli_install.py) feeds this file to
each candidate interpreter as `python -S - <guest root> <python path> <plan>` and
reads the exit code: 0 installed, EXIT_UNSUITABLE this interpreter cannot run
configcli (try the next), EXIT_FAILED the install itself failed.  One process
does the whole install (version check, site directory, files, commands,
links, log), because an interpreter's start-up is most of an install's cost.

The plan (zlib-compressed JSON, base64) says where things go and holds the
module files: {"bin", "user_site", "log", "entries": [[command, module]],
"links", "files": {name: text}}.
"""

import base64
import json
import os
import site
import sys
import sysconfig
import zlib

EXIT_UNSUITABLE = 3
EXIT_FAILED = 4
ENTRY = (
    '#!%s\nimport sys\nsys.path.insert(0, "%s")\nfrom configcli.%s import main\nsys.exit(main())\n'
)


def suitable():
    version = sys.version_info[:2]
    return (2, 7) <= version < (3, 0) or version >= (3, 6)


def site_dir(user_site):
    """The user site (PYTHONUSERBASE set by the caller), or the first system
    site-packages directory the interpreter searches.

    The caller starts this with `-S` (no site processing: the `.pth` files of a
    big site-packages cost more than the install), so the directories are
    worked out as site's start-up would: a virtual environment's prefix first
    (Python 3's `site.venv`; Python 2's site runs in full on import anyway),
    then every site-packages directory that exists, in site's order."""
    if user_site:
        return site.getusersitepackages()
    if sys.flags.no_site and hasattr(site, "venv"):
        site.venv(set())
    dirs = [p for p in getattr(site, "getsitepackages", list)() if os.path.isdir(p)]
    return dirs[0] if dirs else sysconfig.get_paths()["purelib"]


def makedirs(path):
    if not os.path.isdir(path):
        os.makedirs(path)


def write(path, text):
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode("utf-8"))


def link(target, path):
    """`ln -sf target path`."""
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def install(root, python, plan):
    lib = site_dir(plan["user_site"])
    if not lib or '"' in lib or "\\" in lib:
        raise ValueError("unusable site directory %r" % (lib,))
    folder = root + lib + "/configcli"
    bin_dir = root + plan["bin"]
    makedirs(folder)
    makedirs(bin_dir)
    for name in sorted(plan["files"]):
        write(folder + "/" + name, plan["files"][name])
    for command, module in plan["entries"]:
        write(bin_dir + "/" + command, ENTRY % (python, root + lib, module))
        os.chmod(bin_dir + "/" + command, 0o755)
    for name in plan["links"]:
        link(bin_dir + "/configcli", bin_dir + "/" + name)
    write(root + plan["log"], "configcli installed for %s in %s\n" % (python, lib))


def main():
    if not suitable():
        return EXIT_UNSUITABLE
    try:
        plan = json.loads(zlib.decompress(base64.b64decode(sys.argv[3])).decode("utf-8"))
        install(sys.argv[1], sys.argv[2], plan)
    except Exception as e:
        sys.stderr.write("configcli install failed: %s\n" % (e,))
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
