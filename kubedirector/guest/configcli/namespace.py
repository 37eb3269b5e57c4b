"""`namespace`: configmeta values by key path (upstream-pods.md section 3.6).

Resolution, as the original did it, so scripts get the same answers:
walk the key tokens down the objects; at a missing token, a list of objects is
first merged into one (later entries win) and the token taken from it, ending
the walk; a `bdvlibrefkey` object restarts the lookup at the root with its path
plus the tokens left. An object reached with no token left gives its keys, in
file order; with one token left, that member; with more, its keys again.
"""

from collections import OrderedDict
from numbers import Integral

from . import errors
from .compat import STRINGS
from .parsing import Parser, split_words

try:
    from typing import Any, Callable  # noqa: F401  # novermin (type comments only)
except ImportError:  # Python 2.7
    pass

REFKEY = "bdvlibrefkey"
SUBCOMMANDS = (
    "node",
    "version",
    "cluster",
    "distros",
    "services",
    "tenant",
    "auth",
    "platform",
    "connections",
)
_MAX_REFERENCES = 64  # more than any configmeta nests; stops reference loops


def _merged(value):
    # type: (Any) -> Any
    """A non-empty list of objects as one object (later entries win); else `value`."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        merged = OrderedDict()  # type: OrderedDict[str, Any]
        for item in value:
            merged.update(item)
        return merged
    return value


def _has_refkey(value, path):
    # type: (Any, list[str]) -> bool
    """Whether `value` is a reference; a null, number or boolean cannot be searched."""
    if value is None or isinstance(value, (bool, Integral, float)):
        raise errors.KeyError(
            "%s: no such key (a null or scalar value on the way)" % ".".join(path)
        )
    return isinstance(value, dict) and REFKEY in value


def resolve(root, tokens):
    # type: (Any, list[str]) -> Any
    """The value at `tokens`, with the original's walk, merge and reference rules."""
    tokens = list(tokens)
    for _ in range(_MAX_REFERENCES):
        path = list(tokens)
        value = root
        while tokens:
            token = tokens[0]
            if isinstance(value, dict) and token in value:
                value = value[token]
                tokens.pop(0)
                continue
            if _has_refkey(value, path):
                break
            value = _merged(value)
            if isinstance(value, dict):
                if token not in value:
                    raise errors.KeyError("%s: no such key %r" % (".".join(path), token))
                value = value[token]
                tokens.pop(0)
            break
        else:
            value = _merged(value)
        if isinstance(value, dict) and REFKEY in value:
            tokens = [str(t) for t in value[REFKEY]] + tokens
            continue
        if isinstance(value, dict):
            if len(tokens) == 1:
                if tokens[0] not in value:
                    raise errors.KeyError("%s: no such key %r" % (".".join(path), tokens[0]))
                return value[tokens[0]]
            return list(value.keys())
        if tokens:
            raise errors.KeyError("%s: no such key %r" % (".".join(path), tokens[0]))
        if value is None or isinstance(value, (list, bool, Integral) + STRINGS):
            return value
        raise errors.ConfigCliError("%s: unsupported value %r" % (".".join(path), value))
    raise errors.KeyError("%s: too many %s references (a loop?)" % (".".join(path), REFKEY))


def _raw(root, tokens):
    # type: (Any, list[str]) -> Any
    """The object at `tokens`, following references but merging nothing."""
    value = root
    for _ in range(_MAX_REFERENCES):
        if isinstance(value, dict) and REFKEY in value:
            value = _raw(root, value[REFKEY])
            continue
        if not tokens:
            return value
        if not isinstance(value, dict) or tokens[0] not in value:
            raise errors.KeyError("%s: no such key" % ".".join(tokens))
        value = value[tokens[0]]
        tokens = tokens[1:]
    raise errors.KeyError("too many %s references (a loop?)" % REFKEY)


class Namespace(object):
    """The `namespace` command and its Python interface."""

    def __init__(self, configmeta):
        # type: (Callable[[], Any]) -> None
        self._configmeta = configmeta  # gives the document

    def getWithTokens(self, tokens):
        # type: (list[str]) -> Any
        """The value at the key path `tokens` (a list of str): str, list, bool, int or None."""
        return resolve(self._configmeta(), tokens)

    def getValue(self, key):
        # type: (str) -> Any
        """The value at the dotted key `key`."""
        return self.getWithTokens(key.split("."))

    def searchForToken(self, startKeyTokens, token):
        # type: (list[str], str) -> list[list[str]]
        """Every key path under `startKeyTokens` (following references) ending in `token`."""
        found = []  # type: list[list[str]]
        pending = [(list(startKeyTokens), _raw(self._configmeta(), list(startKeyTokens)))]
        while pending:
            path, value = pending.pop(0)
            if not isinstance(value, dict) or REFKEY in value:
                continue
            for key, child in value.items():
                if key == token:
                    found.append(path + [key])
                pending.append((path + [key], child))
        return found

    def run(self, arg):
        # type: (str) -> Any
        """`namespace <sub-command> [dotted.key]`, e.g. `namespace node fqdn`."""
        parser = Parser(prog="namespace")
        parser.add_argument("subcommand", choices=SUBCOMMANDS)
        parser.add_argument("key", nargs="?", default=None)
        args = parser.parse_args(split_words(arg))
        if args.subcommand == "version":
            return self.getWithTokens(["version"])
        tokens = [args.subcommand]
        if args.key:
            tokens += args.key.split(".")
        return self.getWithTokens(tokens)
