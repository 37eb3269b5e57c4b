"""configcli: read this member's configmeta (`/etc/guestconfig/configmeta.json`).

Written for KubeDirector's Python operator from the original configcli's
documented behaviour: the same commands (`configcli`, `ccli`, `bdvcli`,
`bd_vcli`, `configmacro`), outputs and exit codes, and the same Python interface:

    from configcli import ConfigCli
    namespace = ConfigCli(shell=False).getCommandObject("namespace")
    namespace.getWithTokens(["node", "role_id"])

Standard library only; runs on Python 2.7 and 3.6+.
"""

from .configcli import ConfigCli
from .version import VERSION

__all__ = ["VERSION", "ConfigCli"]
