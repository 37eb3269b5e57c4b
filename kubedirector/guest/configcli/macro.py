"""`macro`: answers computed from configmeta (upstream-pods.md section 3.7).

`macro node --get_self_id | --get_id FQDN | --get_self_index | --get_index FQDN`
and `macro nodegroup --num_nodegroups | --get_nodegroup_fqdns ID |
--get_local_group_fqdns | --get_all_fqdns`. Usage errors exit 2, lookups that
find nothing exit 1, as in the original.
"""

import re

from . import errors
from .parsing import MacroParser, split_words

try:
    from typing import Any, Callable  # noqa: F401  # novermin (type comments only)
except ImportError:  # Python 2.7
    pass

_TRAILING_DIGITS = re.compile(r"(\d+)$")


def _dedup(items):
    # type: (list[str]) -> list[str]
    """`items` without repeats, first occurrences kept."""
    out = []  # type: list[str]
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _roles(doc, nodegroup_id):
    # type: (Any, str) -> list[Any]
    nodegroups = doc.get("nodegroups") or {}
    if nodegroup_id not in nodegroups:
        raise errors.ConfigCliError("no nodegroup %r" % nodegroup_id)
    return list(((nodegroups[nodegroup_id] or {}).get("roles") or {}).values())


def _all_roles(doc):
    # type: (Any) -> list[Any]
    """Every role of every nodegroup, in configmeta order."""
    return [role for ng in doc.get("nodegroups") or {} for role in _roles(doc, ng)]


def _numeric(node_id):
    # type: (str) -> tuple[int, int]
    """Sort key: node ids by their trailing number (ids without one last)."""
    match = _TRAILING_DIGITS.search(node_id)
    return (0, int(match.group(1))) if match else (1, 0)


class NodeMacro(object):
    """Node ids and indexes."""

    def __init__(self, configmeta):
        # type: (Callable[[], Any]) -> None
        self._configmeta = configmeta

    def getSelfId(self):
        # type: () -> str
        return str(self._configmeta()["node"]["id"])

    def getId(self, fqdn):
        # type: (str) -> str
        for role in _all_roles(self._configmeta()):
            mappings = role.get("fqdn_mappings") or {}
            if fqdn in mappings:
                return str(mappings[fqdn])
        raise errors.ConfigCliError("no node with the FQDN %r" % fqdn)

    def _index(self, node_id):
        # type: (str) -> str
        ids = [i for role in _all_roles(self._configmeta()) for i in role.get("node_ids") or []]
        ordered = sorted(_dedup(ids), key=_numeric)
        if node_id not in ordered:
            raise errors.ConfigCliError("no node with the id %r" % node_id)
        return str(ordered.index(node_id))

    def getSelfIndex(self):
        # type: () -> str
        return self._index(self.getSelfId())

    def getIndex(self, fqdn):
        # type: (str) -> str
        return self._index(self.getId(fqdn))


class NodegroupMacro(object):
    """Nodegroups and their members' FQDNs (every role, in configmeta order)."""

    def __init__(self, configmeta):
        # type: (Callable[[], Any]) -> None
        self._configmeta = configmeta

    def getNumNodegroups(self):
        # type: () -> int
        return len(self._configmeta().get("nodegroups") or {})

    def getNodegroupFqdns(self, nodegroup_id):
        # type: (str) -> list[str]
        roles = _roles(self._configmeta(), nodegroup_id)
        return _dedup([f for role in roles for f in role.get("fqdns") or []])

    def getLocalGroupFqdns(self):
        # type: () -> list[str]
        return self.getNodegroupFqdns(str(self._configmeta()["node"]["nodegroup_id"]))

    def getClusterFqdns(self):
        # type: () -> list[str]
        roles = _all_roles(self._configmeta())
        return _dedup([f for role in roles for f in role.get("fqdns") or []])


class Macro(object):
    """The `macro` command and its Python interface."""

    def __init__(self, configmeta):
        # type: (Callable[[], Any]) -> None
        self.node = NodeMacro(configmeta)
        self.nodegroup = NodegroupMacro(configmeta)

    def getSubcommandObject(self, name):
        # type: (str) -> Any
        """`node` or `nodegroup`."""
        return {"node": self.node, "nodegroup": self.nodegroup}[name]

    def run(self, arg):
        # type: (str) -> Any
        parser = MacroParser(prog="macro")
        subparsers = parser.add_subparsers(dest="subcommand", parser_class=MacroParser)
        subparsers.required = True
        node = subparsers.add_parser("node").add_mutually_exclusive_group(required=True)
        node.add_argument("--get_self_id", action="store_true")
        node.add_argument("--get_id", metavar="FQDN")
        node.add_argument("--get_self_index", action="store_true")
        node.add_argument("--get_index", metavar="FQDN")
        group = subparsers.add_parser("nodegroup").add_mutually_exclusive_group(required=True)
        group.add_argument("--num_nodegroups", action="store_true")
        group.add_argument("--get_nodegroup_fqdns", metavar="ID")
        group.add_argument("--get_local_group_fqdns", action="store_true")
        group.add_argument("--get_all_fqdns", action="store_true")
        args = parser.parse_args(split_words(arg))
        if args.subcommand == "node":
            if args.get_self_id:
                return self.node.getSelfId()
            if args.get_id is not None:
                return self.node.getId(args.get_id)
            if args.get_self_index:
                return self.node.getSelfIndex()
            return self.node.getIndex(args.get_index)
        if args.num_nodegroups:
            return self.nodegroup.getNumNodegroups()
        if args.get_nodegroup_fqdns is not None:
            return self.nodegroup.getNodegroupFqdns(args.get_nodegroup_fqdns)
        if args.get_local_group_fqdns:
            return self.nodegroup.getLocalGroupFqdns()
        return self.nodegroup.getClusterFqdns()
