"""Install configcli in this member: run by the member's own python (2.7 or 3.6+).

The setup script (kubedirector/setup/configcli_install.py) feeds this file to
each candidate interpreter as

    python -S - ROOT PYTHON BIN SITE LOG COMMANDS LINKS ALIASES FILES

and reads the exit code: 0 installed, EXIT_UNSUITABLE this interpreter cannot
run configcli (try the next), EXIT_FAILED the install itself failed.  One
process does the whole install (version check, site directory, files,
commands, links, log): an interpreter's start-up is most of an install's cost,
which is also why it runs with `-S` and imports nothing that pulls in `re`, and
why it makes the directories and links itself rather than leaving them to
`mkdir`/`ln` processes in the script.

ROOT is the guest root (empty in a real pod), PYTHON the interpreter's path as
found on PATH (the commands' `#!`), BIN where the commands go, SITE `user` or
`system` (which site-packages gets the module), LOG the install log,
COMMANDS `command:module,...`, LINKS `name,...` (links to BIN/configcli),
ALIASES `path=target,...` (more links, e.g. the new layout's `/usr/bin` ones; `-`
for none), and FILES the module's files: base64 of zlib-compressed
`name NUL text NUL ...`.
"""

import binascii
import os
import site
import sys
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

    Started with `-S` (no site processing: the `.pth` files of a big
    site-packages cost more than the install), this works the directories out
    as site's start-up would: a virtual environment's prefix first (Python 3's
    `site.venv`; Python 2's site runs in full on import anyway), then every
    site-packages directory that exists, in site's order."""
    if user_site:
        return site.getusersitepackages()
    if sys.flags.no_site and hasattr(site, "venv"):
        site.venv(set())
    dirs = [p for p in getattr(site, "getsitepackages", list)() if os.path.isdir(p)]
    if dirs:
        return dirs[0]
    import sysconfig  # noqa: PLC0415 (only here: a large module)

    return sysconfig.get_paths()["purelib"]


def makedirs(path):
    if not os.path.isdir(path):
        os.makedirs(path)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def link(target, path):
    """`ln -sf target path`, making the directory if need be."""
    makedirs(os.path.dirname(path))
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def unpack(files):
    """{name: bytes} from FILES."""
    parts = zlib.decompress(binascii.a2b_base64(files)).split(b"\0")
    return dict((parts[i].decode("utf-8"), parts[i + 1]) for i in range(0, len(parts) - 1, 2))


def install(args):
    """Install as the arguments (after `-`) say."""
    root, python, bin_dir, site_kind, log, commands, links, aliases, files = args
    lib = site_dir(site_kind == "user")
    if not lib or '"' in lib or "\\" in lib:
        raise ValueError("unusable site directory %r" % (lib,))
    folder = root + lib + "/configcli"
    makedirs(folder)
    makedirs(root + bin_dir)
    for name, data in sorted(unpack(files).items()):
        write(folder + "/" + name, data)
    for entry in commands.split(","):
        command, module = entry.split(":")
        path = root + bin_dir + "/" + command
        write(path, ENTRY % (python, root + lib, module))
        os.chmod(path, 0o755)
    for name in links.split(","):
        link(root + bin_dir + "/configcli", root + bin_dir + "/" + name)
    for alias in aliases.split(",") if aliases != "-" else ():
        path, target = alias.split("=")
        link(root + target, root + path)
    makedirs(os.path.dirname(root + log))
    write(root + log, "configcli installed for %s in %s\n" % (python, lib))


def main():
    if not suitable():
        return EXIT_UNSUITABLE
    try:
        install(sys.argv[1:])
    except Exception as e:
        sys.stderr.write("configcli install failed: %s\n" % (e,))
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
