"""`configmacro ARGS...`: the instruction `macro ARGS...` (upstream-pods.md 3.7)."""

import os
import sys

from .configcli import ConfigCli, run_instruction
from .parsing import as_text


def main():
    # type: () -> int
    prog = os.path.basename(sys.argv[0]) or "configmacro"
    words = [as_text(w) for w in sys.argv[1:]]
    return run_instruction(ConfigCli(shell=False), " ".join(["macro"] + words), prog)


if __name__ == "__main__":
    sys.exit(main())
