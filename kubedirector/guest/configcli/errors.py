"""Errors of the tool; scripts catch `configcli.errors.KeyError`, as in the original."""


class ConfigCliError(Exception):
    """Base of the tool's errors: the command fails with exit status 1."""


class KeyError(ConfigCliError):  # the original's public name
    """A configmeta key that cannot be resolved."""


class UsageError(ConfigCliError):
    """A sub-command's arguments were rejected (usage already printed): exit `code`."""

    def __init__(self, code, message=""):
        # type: (int, str) -> None
        ConfigCliError.__init__(self, message)
        self.code = code
