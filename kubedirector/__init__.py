"""KubeDirector: run stateful, clustered apps on Kubernetes from an app catalog."""

from importlib.metadata import PackageNotFoundError, version

from kubedirector import lazykube

# Before anything imports kubernetes: its client's generated classes load only if used.
lazykube.install()

try:
    __version__ = version("kubedirector")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
