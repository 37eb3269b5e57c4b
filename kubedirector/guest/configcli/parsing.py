"""Argument handling shared by the sub-commands.

An instruction's argument text is split on whitespace and words between double
quotes are joined back into one, as the original did; the words then go to an
argparse parser whose errors end only that instruction (exit `code`), not the
interactive shell.
"""

import argparse
import sys

from . import errors

try:
    from typing import NoReturn  # noqa: F401  # novermin (type comments only)
except ImportError:  # Python 2.7
    pass


def as_text(word):
    # type: (str | bytes) -> str
    """A command-line word as text (Python 2 gives bytes)."""
    if isinstance(word, bytes):  # Python 2's `str`
        return word.decode("utf-8", "replace")
    try:
        word.encode("utf-8")
        return word
    except UnicodeEncodeError:  # Python 3 decoded it with a non-UTF-8 locale
        return word.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def split_words(text):
    # type: (str) -> list[str]
    """Whitespace-separated words; `"a b"` (possibly over several words) is one word."""
    words = []  # type: list[str]
    quoted = None  # type: list[str] | None
    for word in text.split():
        if quoted is not None:
            quoted.append(word)
            if word.endswith('"'):
                words.append(" ".join(quoted)[1:-1])
                quoted = None
        elif word.startswith('"') and not (len(word) > 1 and word.endswith('"')):
            quoted = [word]
        elif len(word) > 1 and word.startswith('"') and word.endswith('"'):
            words.append(word[1:-1])
        else:
            words.append(word)
    if quoted is not None:  # an unclosed quote: the rest is one word
        words.append(" ".join(quoted)[1:])
    return words


class Parser(argparse.ArgumentParser):
    """An argparse parser that raises UsageError(code) instead of exiting."""

    code = 1  # the exit status of a usage error

    def exit(self, status=0, message=None):
        # type: (int, str | None) -> NoReturn
        if message:
            sys.stderr.write(message)
        raise errors.UsageError(status if status == 0 else self.code, message or "")

    def error(self, message):
        # type: (str) -> NoReturn
        self.print_usage(sys.stderr)
        self.exit(self.code, "%s: error: %s\n" % (self.prog, message))


class MacroParser(Parser):
    """`macro`'s parser: its usage errors exit 2, as the original's did."""

    code = 2
