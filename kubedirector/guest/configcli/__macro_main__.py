"""`configmacro ARGS...`: the instruction `macro ARGS...` (upstream-pods.md 3.7)."""

import os
import sys

from . import errors
from .configcli import ConfigCli, emit, render
from .parsing import as_text


def main():
    # type: () -> int
    prog = os.path.basename(sys.argv[0]) or "configmacro"
    words = [as_text(w) for w in sys.argv[1:]]
    try:
        result = ConfigCli(shell=False).execute(" ".join(["macro"] + words))
        emit(render(result) + "\n")
    except errors.UsageError as e:
        return e.code
    except errors.ConfigCliError as e:
        emit("%s: %s: %s\n" % (prog, type(e).__name__, e), sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
