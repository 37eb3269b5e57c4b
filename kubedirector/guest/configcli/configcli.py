"""The command interpreter (`ConfigCli`) and how results are printed.

An instruction's first word picks the command (`namespace`, `macro`, `ccli`,
`baseimg`); an unknown one prints `*** Unknown syntax: <line>` and yields
nothing, which is how the original's obsolete vAgent options (`--wait`,
`--service_key`, ...) became no-ops with exit status 0. Results print as one
line: lists joined with `,`, booleans as `true`/`false`, null as an empty line.
"""

import cmd
import os
import sys
from numbers import Integral

from . import errors, settings
from .compat import STRINGS, TEXT
from .macro import Macro
from .namespace import Namespace
from .parsing import Parser, split_words
from .version import VERSION

try:
    from typing import IO, Any  # noqa: F401  # novermin (type comments only)
except ImportError:  # Python 2.7
    pass

_EXIT = object()


def render(value):
    # type: (Any) -> str
    """The printed form of a result (without the newline)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, STRINGS):
        return value
    if isinstance(value, Integral):
        return str(value)
    if isinstance(value, list):
        if all(isinstance(v, STRINGS) for v in value):
            return ",".join(value)
        if isinstance(value[0], dict):
            return ",".join(value[0].keys())
    raise errors.ConfigCliError("cannot print a value of type %s" % type(value).__name__)


def emit(text, stream=None):
    # type: (str, IO[str] | None) -> None
    """Write `text` as UTF-8, whatever the locale says."""
    stream = stream or sys.stdout
    data = text.encode("utf-8") if isinstance(text, TEXT) else text
    stream.flush()
    target = getattr(stream, "buffer", stream)  # type: Any
    target.write(data)
    target.flush()


def report(prog, error):
    # type: (str, errors.ConfigCliError) -> int
    """Print a command's error after its name; exit status 1."""
    emit("%s: %s: %s\n" % (prog, type(error).__name__, error), sys.stderr)
    return 1


def debug(message):
    # type: (str) -> None
    if os.environ.get("ConfigCLI_DEBUG", "").lower() == "true":  # noqa: SIM112 - its name
        emit(message + "\n")


class ConfigCli(cmd.Cmd, object):
    """`ConfigCli(shell=False)` for scripts; with `shell=True`, an interactive shell."""

    intro = "Configuration CLI %s." % VERSION
    prompt = "ccli> "

    def __init__(self, shell=True):
        # type: (bool) -> None
        cmd.Cmd.__init__(self)
        self.shell = shell
        self._document = None  # type: Any
        self._namespace = Namespace(self._configmeta)
        self._macro = Macro(self._configmeta)

    def _configmeta(self):
        # type: () -> Any
        if self._document is None:
            self._document = settings.load_configmeta()
        return self._document

    def getCommandObject(self, name):
        # type: (str) -> Any
        """The object behind a command: `namespace` or `macro`."""
        return {"namespace": self._namespace, "macro": self._macro}[name]

    def execute(self, instruction):
        # type: (str) -> Any
        """Run one instruction and return its result (errors raise)."""
        debug("EXECUTING: %s" % instruction)
        return cmd.Cmd.onecmd(self, instruction)

    def onecmd(self, line):
        # type: (str) -> Any
        """Run one instruction; in the shell, print its result or error and go on."""
        if not self.shell:
            return self.execute(line)
        try:
            result = self.execute(line)
        except errors.UsageError:
            return False
        except errors.ConfigCliError as e:
            emit("%s: %s\n" % (type(e).__name__, e), sys.stderr)
            return False
        if result is _EXIT:
            return True
        emit(render(result) + "\n")
        return False

    def default(self, line):
        # type: (str) -> None
        emit("*** Unknown syntax: %s\n" % line)

    def emptyline(self):
        # type: () -> bool
        return False

    def do_namespace(self, arg):
        # type: (str) -> Any
        """namespace <node|version|cluster|distros|services|...> [dotted.key]"""
        return self._namespace.run(arg)

    def do_macro(self, arg):
        # type: (str) -> Any
        """macro node|nodegroup --<option> ..."""
        return self._macro.run(arg)

    def do_ccli(self, arg):
        # type: (str) -> str
        """ccli version"""
        parser = Parser(prog="ccli")
        parser.add_argument("what", choices=("version",))
        parser.parse_args(split_words(arg))
        return VERSION

    def do_baseimg(self, arg):
        # type: (str) -> str
        """baseimg version"""
        parser = Parser(prog="baseimg")
        parser.add_argument("what", choices=("version",))
        parser.parse_args(split_words(arg))
        return settings.base_img_version()

    def do_exit(self, arg):
        # type: (str) -> Any
        """Leave the shell."""
        return _EXIT if self.shell else None

    def do_EOF(self, arg):
        # type: (str) -> Any
        """Leave the shell (end of input)."""
        if self.shell:
            emit("\n")
        return self.do_exit(arg)


def run_instruction(cli, instruction, prog):
    # type: (ConfigCli, str, str) -> int
    """Run one instruction as the commands do: print its result (exit status 0), or
    its error after `prog` (1; a rejected sub-command's own status)."""
    try:
        emit(render(cli.execute(instruction)) + "\n")
    except errors.UsageError as e:
        return e.code
    except errors.ConfigCliError as e:
        return report(prog, e)
    return 0
