"""Where a member's container has volumes mounted, fixed by the API rather than by a
cluster's spec: the shared-memory and systemd cgroup paths, and the directories its
persistent volume holds (api.md section 2).

Validation needs them to refuse two volumes at one path; the builders in
`kubedirector.desired` mount them. Kept here, in the lowest layer, so both read one
definition.
"""

from __future__ import annotations

import posixpath

from kubedirector.api.app import AppRole

SHM_PATH = "/dev/shm"
CGROUP_PATH = "/sys/fs/cgroup"
SYSTEMD_PATH = "/sys/fs/cgroup/systemd"

ALWAYS_PERSISTED = ("/etc",)
NEW_LAYOUT_DIRS = ("/opt/guestconfig", "/var/log/guestconfig", "/usr/local/bin", "/usr/local/lib")
OLD_LAYOUT_DIRS = ("/opt", "/usr")


def _under(path: str, parent: str) -> bool:
    """`path` is `parent` or lies below it (the original's relative-path test)."""
    return not posixpath.relpath(path, parent).startswith("..")


def union_dirs(
    defaults: list[str] | tuple[str, ...], app_dirs: list[str] | tuple[str, ...]
) -> list[str]:
    """The original's union of default and app directories (upstream-pods.md 1.5):
    surviving defaults in their order, then surviving app dirs in theirs.  The order
    is the mount order and the copy order, so it must be the original's.
    """
    ds = [posixpath.normpath(posixpath.join("/", d)) for d in defaults]
    xs = [posixpath.normpath(posixpath.join("/", d)) for d in app_dirs]
    kept = [
        d
        for i, d in enumerate(ds)
        if d not in ds[:i] and not any(_under(d, o) and d != o for o in ds + xs)
    ]
    kept += [
        x
        for i, x in enumerate(xs)
        if x not in xs[:i]
        and not any(_under(x, o) and x != o for o in xs)
        and not any(_under(x, d) for d in ds)
    ]
    return kept


def persisted_dirs(app_role: AppRole) -> list[str]:
    """The directories placed on a member's persistent volume (upstream-pods.md 1.5)."""
    defaults: tuple[str, ...] = ALWAYS_PERSISTED
    package = app_role.config_package
    if package is not None:
        defaults += NEW_LAYOUT_DIRS if package.use_new_setup_layout else OLD_LAYOUT_DIRS
    return union_dirs(defaults, app_role.persist_dirs)
