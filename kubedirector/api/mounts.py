"""Where a member's container has volumes mounted, fixed by the API rather than by a
cluster's spec: the shared-memory and systemd cgroup paths, and the directories its
persistent volume holds (api.md section 2).

Validation needs them to refuse two volumes at one path; the builders in
`kubedirector.desired` mount them. Kept here, in the lowest layer, so both read one
definition.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from kubedirector.api.app import AppRole

SHM_PATH = "/dev/shm"
CGROUP_PATH = "/sys/fs/cgroup"
SYSTEMD_PATH = "/sys/fs/cgroup/systemd"

ALWAYS_PERSISTED = ("/etc",)
NEW_LAYOUT_DIRS = ("/opt/guestconfig", "/var/log/guestconfig", "/usr/local/bin", "/usr/local/lib")
OLD_LAYOUT_DIRS = ("/opt", "/usr")


def collapse_dirs(dirs: Iterable[str]) -> list[str]:
    """Sorted, normalised, with every directory nested in another one dropped."""
    kept: list[str] = []
    for d in sorted({posixpath.normpath(x) for x in dirs}):
        if not any(d == k or d.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(d)
    return kept


def persisted_dirs(app_role: AppRole) -> list[str]:
    """The directories placed on a member's persistent volume (api.md section 2)."""
    dirs = [*ALWAYS_PERSISTED, *app_role.persist_dirs]
    package = app_role.config_package
    if package is not None:
        dirs += NEW_LAYOUT_DIRS if package.use_new_setup_layout else OLD_LAYOUT_DIRS
    return collapse_dirs(dirs)
