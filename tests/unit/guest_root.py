"""A simulated guest for unit tests: a temp directory as the member's root
(`KD_GUEST_ROOT`, as hack/simkubelet.py gives each pod), scripts run into it as an
exec would, and setup packages to put in it."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path


def make_package(path: Path, members: dict[str, str]) -> None:
    """A gzipped tar at `path` holding `members` (name -> text), all executable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))


def run_guest(
    root: Path, script: str, timeout: float = 10.0, python: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a script as an exec would: `bash -s`, the script on stdin, `KD_GUEST_ROOT`
    set; with `python`, that interpreter first on PATH as `python`."""
    env = {**os.environ, "KD_GUEST_ROOT": str(root)}
    if python is not None:
        bin_dir = root.parent / f"{root.name}-python"
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "python").unlink(missing_ok=True)
        (bin_dir / "python").symlink_to(python)
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return subprocess.run(
        ["bash", "-s"],
        input=script,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
