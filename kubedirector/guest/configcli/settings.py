"""Where the tool's files are, and reading configmeta.

Paths are those of the original: `/etc/guestconfig/configmeta.json`, overridable
in the INI file `/etc/guestconfig/configcli.conf` (section `[configcli]`, key
`configmeta`). Every path is taken under `$KD_GUEST_ROOT` when that is set (the
simulated cluster gives each fake member its own root directory; unset in a real
member), so the tool reads the same member's files as the operator wrote.
"""

import json
import os
import sys
from collections import OrderedDict

from . import errors

try:
    from typing import Any  # noqa: F401  # novermin (type comments only)
except ImportError:  # Python 2.7
    pass

if sys.version_info[0] >= 3:
    from configparser import ConfigParser  # novermin (the Python 2 name is below)
else:
    from ConfigParser import SafeConfigParser as ConfigParser  # novermin

CONF_FILE = "/etc/guestconfig/configcli.conf"
CONFIGMETA = "/etc/guestconfig/configmeta.json"
BASE_IMG_VERSION = "/etc/guestconfig/base_img_version"
SECTION = "configcli"


def guest_path(path):
    # type: (str) -> str
    """`path` under the guest root (the path itself in a real member)."""
    return os.environ.get("KD_GUEST_ROOT", "") + path


def configmeta_path():
    # type: () -> str
    """The configmeta file: configcli.conf's `configmeta` if set, else the default."""
    conf = guest_path(CONF_FILE)
    if os.path.isfile(conf):
        parser = ConfigParser()
        try:
            parser.read(conf)
            if parser.has_option(SECTION, "configmeta"):
                return guest_path(parser.get(SECTION, "configmeta"))
        except Exception as e:  # configparser's errors differ between versions
            raise errors.ConfigCliError("cannot read %s: %s" % (conf, e))
    return guest_path(CONFIGMETA)


def load_configmeta():
    # type: () -> Any
    """The configmeta document, with its objects' keys in file order."""
    path = configmeta_path()
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (IOError, OSError) as e:
        raise errors.ConfigCliError("cannot read configmeta %s: %s" % (path, e))
    try:
        return json.loads(text, object_pairs_hook=OrderedDict)
    except ValueError as e:
        raise errors.ConfigCliError("configmeta %s is not valid JSON: %s" % (path, e))


def base_img_version():
    # type: () -> str
    """The first line of the base image's version file, or "" when there is none."""
    try:
        with open(guest_path(BASE_IMG_VERSION), "rb") as f:
            line = f.readline().decode("utf-8", "replace")
    except (IOError, OSError):
        return ""
    return line.rstrip("\r\n")
