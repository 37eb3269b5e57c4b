"""The suite's cluster directory is never the walkthrough's."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import suite_cluster_dir

HOME_CACHE = Path.home() / ".cache" / "kubedirector"


def test_default_is_beside_the_walkthroughs() -> None:
    assert suite_cluster_dir({}) == HOME_CACHE / "cluster-test"


def test_follows_the_cache_dir() -> None:
    assert suite_cluster_dir({"KD_CACHE_DIR": "/c"}) == Path("/c/cluster-test")


def test_explicit_dir_wins() -> None:
    env = {"KD_TEST_CLUSTER_DIR": "/t", "KD_CLUSTER_DIR": "/w"}
    assert suite_cluster_dir(env) == Path("/t")


@given(st.from_regex(r"/[a-z0-9_.-]{1,12}(/[a-z0-9_.-]{1,12}){0,3}/?", fullmatch=True))
def test_never_the_walkthroughs_dir(walkthrough: str) -> None:
    assert suite_cluster_dir({"KD_CLUSTER_DIR": walkthrough}) != Path(walkthrough)
