"""The version `configcli --version` prints: the original's package version."""

VERSION = "1.0"
