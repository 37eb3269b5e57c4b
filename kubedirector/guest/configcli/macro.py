"""`macro`: answers computed from configmeta (upstream-pods.md section 3.7).

`macro node --get_self_id | --get_id FQDN | --get_self_index | --get_index FQDN`
and `macro nodegroup --num_nodegroups | --get_nodegroup_fqdns ID |
--get_local_group_fqdns | --get_all_fqdns`. Usage errors exit 2, lookups that
find nothing exit 1, as in the original.
"""

import functools
import re

from . import errors
from .parsing import Parser, split_words

_TRAILING_DIGITS = re.compile(r"(\d+)$")


def _dedup(items):
    seen = set()
    return [x for x in items if not (x in seen or seen.add(x))]


def _roles(doc, nodegroup_id):
    nodegroups = doc.get("nodegroups") or {}
    if nodegroup_id not in nodegroups:
        raise errors.ConfigCliError("no nodegroup %r" % nodegroup_id)
    return list(((nodegroups[nodegroup_id] or {}).get("roles") or {}).values())


def _numeric(node_id):
    match = _TRAILING_DIGITS.search(node_id)
    return (0, int(match.group(1))) if match else (1, 0)


class NodeMacro(object):
    """Node ids and indexes."""

    def __init__(self, configmeta):
        self._configmeta = configmeta

    def getSelfId(self):
        return self._configmeta()["node"]["id"]

    def getId(self, fqdn):
        doc = self._configmeta()
        for nodegroup_id in doc.get("nodegroups") or {}:
            for role in _roles(doc, nodegroup_id):
                mappings = role.get("fqdn_mappings") or {}
                if fqdn in mappings:
                    return mappings[fqdn]
        raise errors.ConfigCliError("no node with the FQDN %r" % fqdn)

    def _index(self, node_id):
        doc = self._configmeta()
        ids = [
            i
            for ng in doc.get("nodegroups") or {}
            for role in _roles(doc, ng)
            for i in role.get("node_ids") or []
        ]
        ordered = sorted(_dedup(ids), key=_numeric)
        if node_id not in ordered:
            raise errors.ConfigCliError("no node with the id %r" % node_id)
        return str(ordered.index(node_id))

    def getSelfIndex(self):
        return self._index(self.getSelfId())

    def getIndex(self, fqdn):
        return self._index(self.getId(fqdn))


class NodegroupMacro(object):
    """Nodegroups and their members' FQDNs (every role, in configmeta order)."""

    def __init__(self, configmeta):
        self._configmeta = configmeta

    def getNumNodegroups(self):
        return len(self._configmeta().get("nodegroups") or {})

    def getNodegroupFqdns(self, nodegroup_id):
        doc = self._configmeta()
        return _dedup([f for role in _roles(doc, nodegroup_id) for f in role.get("fqdns") or []])

    def getLocalGroupFqdns(self):
        return self.getNodegroupFqdns(self._configmeta()["node"]["nodegroup_id"])

    def getClusterFqdns(self):
        doc = self._configmeta()
        return _dedup(
            [
                f
                for ng in doc.get("nodegroups") or {}
                for role in _roles(doc, ng)
                for f in role.get("fqdns") or []
            ]
        )


class Macro(object):
    """The `macro` command and its Python interface."""

    def __init__(self, configmeta):
        self._subcommands = {"node": NodeMacro(configmeta), "nodegroup": NodegroupMacro(configmeta)}

    def getSubcommandObject(self, name):
        return self._subcommands[name]

    def run(self, arg):
        parser = Parser(2, prog="macro")
        subparsers = parser.add_subparsers(
            dest="subcommand", parser_class=functools.partial(Parser, 2)
        )
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
            node_macro = self._subcommands["node"]
            if args.get_self_id:
                return node_macro.getSelfId()
            if args.get_id is not None:
                return node_macro.getId(args.get_id)
            if args.get_self_index:
                return node_macro.getSelfIndex()
            return node_macro.getIndex(args.get_index)
        nodegroup = self._subcommands["nodegroup"]
        if args.num_nodegroups:
            return nodegroup.getNumNodegroups()
        if args.get_nodegroup_fqdns is not None:
            return nodegroup.getNodegroupFqdns(args.get_nodegroup_fqdns)
        if args.get_local_group_fqdns:
            return nodegroup.getLocalGroupFqdns()
        return nodegroup.getClusterFqdns()
