"""The kubernetes client loads lazily: the operator never pays for its generated classes."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_fresh(code: str) -> str:
    """Run `code` in a new interpreter (this one imported kubernetes long ago)."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.strip()


def test_the_operator_imports_no_generated_class() -> None:
    out = run_fresh("""
        import sys
        import kubedirector.cmd_run, kubedirector.cli
        from kubedirector.kube import new_api_client
        loaded = [m for m in sys.modules if m.startswith("kubernetes.client.")]
        print(len(loaded), any(".models." in m or ".api." in m for m in loaded))
    """)
    count, generated = out.split()
    assert generated == "False"
    assert int(count) < 30


def test_generated_classes_still_load_when_asked_for() -> None:
    out = run_fresh("""
        import kubedirector
        from kubernetes import client, config, watch
        from kubernetes.client import ApiClient, ApiException, Configuration, CoreV1Api, V1Pod
        import kubernetes
        assert client.CoreV1Api is CoreV1Api and ApiClient is client.api_client.ApiClient
        print(V1Pod.__name__, kubernetes.__version__ == client.__version__,
              callable(config.load_kube_config), watch.Watch.__name__)
    """)
    assert out == "V1Pod True True Watch"


def test_missing_names_raise_attribute_error() -> None:
    out = run_fresh("""
        import kubedirector, kubernetes.client
        try:
            kubernetes.client.NoSuchThing
        except AttributeError as e:
            print("AttributeError", "NoSuchThing" in str(e))
        print(hasattr(kubernetes.client, "__wrapped__"))
    """)
    assert out.splitlines() == ["AttributeError True", "False"]


def test_install_does_nothing_once_kubernetes_is_imported() -> None:
    out = run_fresh("""
        import kubernetes.client
        from kubedirector import lazykube
        print(lazykube.install(), hasattr(kubernetes.client, "V1Pod"))
    """)
    assert out == "False True"
