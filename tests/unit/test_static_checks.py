"""Linters: the Dockerfile (built and run for real by tests/e2e/test_realnode.py) and
the hack/ shell scripts.  Both tools install from PyPI (test extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_dockerfile_passes_hadolint():
    proc = run(str(BIN / "hadolint"), "Dockerfile")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shell_scripts_pass_shellcheck():
    scripts = sorted(str(p.relative_to(REPO)) for p in (REPO / "hack").glob("*.sh"))
    assert "hack/walkthrough.sh" in scripts
    proc = run(str(BIN / "shellcheck"), "-x", *scripts, ".ci/run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
