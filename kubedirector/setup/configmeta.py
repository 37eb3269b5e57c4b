"""The configmeta document a member reads at `/etc/guestconfig/configmeta.json`.

App setup packages (configcli / bdvlib) parse this document, so its field names,
nesting, string-typed numbers and `bdvlibrefkey` references follow the original
KubeDirector's `pkg/catalog` exactly. Everything here is pure: the caller reads
the connected objects and passes them in, and the same inputs always give the
same bytes from `configmeta_json`, so comparing them tells whether a member's copy
is stale (an update, or `--reconnect` when only connections moved).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster, ClusterRole
from kubedirector.api.config import Config
from kubedirector.api.constants import GROUP, MemberState
from kubedirector.api.quantity import parse_quantity
from kubedirector.api.secretkeys import SecretKeyError, decrypt
from kubedirector.api.status import ClusterStatus, MemberStatus
from kubedirector.desired.headless_service import member_fqdn
from kubedirector.desired.storage import block_device_paths

# KubeDirector manages a single nodegroup per cluster; its id is always "1".
NODEGROUP = "1"
# Only members that are (or are about to be) part of the cluster are described.
LISTED_STATES = frozenset(
    {
        MemberState.CREATE_PENDING,
        MemberState.CREATING,
        MemberState.CONFIGURED,
        MemberState.CONFIG_ERROR,
    }
)
# Connected ConfigMaps/Secrets without these labels are left out, as in the original.
CONFIGMAP_TYPE_LABEL = f"{GROUP}/cmType"
SECRET_TYPE_LABEL = f"{GROUP}/secretType"

_MIB = 2**20
_CONNECTED_PREFIX = ("connections", "clusters")


@dataclass(frozen=True)
class ConnectedCluster:
    """A connected cluster (its `status` gives the members) and the app it runs."""

    cluster: Cluster
    app: App


@dataclass(frozen=True)
class ConnectionsData:
    """The objects named in the cluster's `spec.connections`, as read now, by name.

    ConfigMaps and Secrets are the raw API objects (dicts). A name the spec lists
    but that is missing here is skipped (the object was deleted); a name the spec
    does not list is ignored.
    """

    clusters: Mapping[str, ConnectedCluster] = field(default_factory=dict)
    configmaps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class ConfigmetaError(ValueError):
    """No configmeta can be made for the requested member."""


def build_configmeta(
    app: App,
    cluster: Cluster,
    config: Config,
    status: ClusterStatus,
    *,
    member_pod: str,
    connections: ConnectionsData,
) -> dict[str, Any]:
    """The configmeta of the member whose pod is `member_pod`.

    `status` is the cluster status being reconciled (it may be newer than
    `cluster.status`): it gives the members, their node ids, auth tokens and
    block device paths. Raises ConfigmetaError when that member is not listed
    (unknown or leaving) and SecretKeyError when a secret key cannot be decrypted.
    """
    listed = _listed_members(cluster, status)
    own = _find_member(listed, member_pod)
    if own is None:
        raise ConfigmetaError(f"member {member_pod!r} is not an active member of {cluster.name}")
    own_role, member = own
    domain = _domain(cluster, status, config)
    doc = _topology(app, cluster, listed, domain, prefix=(), own=member)
    role_doc = doc["nodegroups"][NODEGROUP]["roles"][own_role]
    role_doc["secret_keys"] = _secret_keys(cluster.role(own_role), config)
    fqdn = member_fqdn(member.pod, status.cluster_service, cluster.namespace, config)
    doc["node"] = {
        "role_id": own_role,
        "nodegroup_id": NODEGROUP,
        "id": str(member.node_id),
        "hostname": fqdn,
        "fqdn": fqdn,
        "domain": domain,
        "distro_id": app.distro_id,
        "depends_on": {},
        "block_device_paths": _block_device_paths(cluster.role(own_role), member),
    }
    doc["connections"] = {
        "clusters": _connected_clusters(cluster, connections, config),
        "configmaps": _connected_configmaps(cluster.connections.configmaps, connections),
        "secrets": _connected_secrets(cluster.connections.secrets, connections),
    }
    return doc


# Objects the original marshalled from Go structs keep their fields in declaration
# order; every other object (a Go map) has its keys sorted. configcli lists an
# object's keys in file order (`configcli --get node`), so the order is part of
# what images see. Paths are relative to a cluster's topology ("*": any key).
_STRUCT_FIELDS: dict[tuple[str, ...], tuple[str, ...]] = {
    pattern: tuple(fields.split())
    for pattern, fields in {
        (): "version services nodegroups distros cluster node connections",
        ("nodegroups", "*"): "roles distro_id catalog_entry_version config_metadata",
        ("nodegroups", "*", "roles", "*"): (
            "services node_ids hostnames fqdns fqdn_mappings flavor secret_keys"
        ),
        ("nodegroups", "*", "roles", "*", "services", "*"): (
            "qualifiers name id hostnames global_id fqdns exported_service endpoints authToken"
        ),
        ("nodegroups", "*", "roles", "*", "flavor"): "storage name memory description cores",
        ("cluster",): "name isolated id config_metadata",
        ("node",): (
            "role_id nodegroup_id id hostname fqdn domain distro_id depends_on block_device_paths"
        ),
        ("connections",): "clusters configmaps secrets",
    }.items()
}


def _struct_fields(path: tuple[str, ...]) -> tuple[str, ...] | None:
    if path[:2] == _CONNECTED_PREFIX and len(path) >= 3:
        path = path[3:]  # a connected cluster's topology
    for pattern, fields in _STRUCT_FIELDS.items():
        if len(pattern) == len(path) and all(
            p in ("*", k) for p, k in zip(pattern, path, strict=True)
        ):
            return fields
    return None


def _go_order(value: Any, path: tuple[str, ...] = ()) -> Any:
    """`value` with the original's key order: struct fields as declared, maps sorted."""
    if isinstance(value, list):
        return [_go_order(v, (*path, "*")) for v in value]
    if not isinstance(value, Mapping):
        return value
    fields = _struct_fields(path)
    rank = {name: i for i, name in enumerate(fields or ())}
    keys = sorted(value, key=lambda k: (rank.get(k, len(rank)), k))
    return {k: _go_order(value[k], (*path, k)) for k in keys}


def configmeta_json(doc: Mapping[str, Any]) -> str:
    """The canonical text of a configmeta document: the bytes to upload and compare.

    Key order is the original's (see `_STRUCT_FIELDS`), whatever the dicts' order.
    """
    return json.dumps(_go_order(doc), separators=(",", ":"), ensure_ascii=True)


def _listed_members(cluster: Cluster, status: ClusterStatus) -> dict[str, list[MemberStatus]]:
    """Listed members of each spec role that has any, ordered by node id."""
    out: dict[str, list[MemberStatus]] = {}
    for role in status.roles:
        if cluster.role(role.id) is None:
            continue
        members = sorted(
            (m for m in role.members if m.state in LISTED_STATES), key=lambda m: m.node_id
        )
        if members:
            out[role.id] = members
    return out


def _find_member(
    listed: Mapping[str, list[MemberStatus]], pod: str
) -> tuple[str, MemberStatus] | None:
    return next(
        ((role_id, m) for role_id, members in listed.items() for m in members if m.pod == pod),
        None,
    )


def _domain(cluster: Cluster, status: ClusterStatus, config: Config) -> str:
    """`<headless>.<namespace><clusterSvcDomainBase>`: member FQDNs are `<pod>.<domain>`."""
    return f"{status.cluster_service}.{cluster.namespace}{config.cluster_svc_domain_base}"


def _ref(prefix: Sequence[str], *keys: str) -> dict[str, list[str]]:
    """A bdvlib reference: configcli resolves it to the value at that key path."""
    return {"bdvlibrefkey": [*prefix, *keys]}


def _topology(
    app: App,
    cluster: Cluster,
    listed: Mapping[str, list[MemberStatus]],
    domain: str,
    *,
    prefix: Sequence[str],
    own: MemberStatus | None,
) -> dict[str, Any]:
    """The part shared by a cluster's own configmeta and its summary as a connection.

    `prefix` is where the document sits inside the reader's configmeta, so that
    references resolve (the original left it off some references of connected
    clusters, which then pointed into the reader's own cluster).
    """
    roles = {
        role_id: _role(
            app, cluster.role(role_id), role_id, members, domain=domain, prefix=prefix, own=own
        )
        for role_id, members in listed.items()
    }
    return {
        "version": "" if app.config_schema_version is None else str(app.config_schema_version),
        "services": _services_index(app, listed, prefix),
        "nodegroups": {
            NODEGROUP: {
                "roles": roles,
                "distro_id": app.distro_id,
                "catalog_entry_version": app.version,
                # The original wrote null for an app without configMeta.
                "config_metadata": dict(app.config_meta) or None,
            }
        },
        "distros": {app.distro_id: {NODEGROUP: _ref(prefix, "nodegroups", NODEGROUP)}},
        "cluster": {
            "name": cluster.name,
            "isolated": False,
            "id": cluster.uid,
            "config_metadata": {
                NODEGROUP: _ref(prefix, "nodegroups", NODEGROUP, "config_metadata")
            },
        },
    }


def _services_index(
    app: App, listed: Mapping[str, list[MemberStatus]], prefix: Sequence[str]
) -> dict[str, Any]:
    """`services.<id>."1".<role>`: where each service runs, for roles with members."""
    out: dict[str, Any] = {}
    for service in app.services:
        roles = {}
        for role_id in listed:
            app_role = app.role(role_id)
            if app_role is not None and any(s.id == service.id for s in app_role.services):
                roles[role_id] = _ref(
                    prefix, "nodegroups", NODEGROUP, "roles", role_id, "services", service.id
                )
        if roles:
            out[service.id] = {NODEGROUP: roles}
    return out


def _role(
    app: App,
    spec_role: ClusterRole | None,
    role_id: str,
    members: list[MemberStatus],
    *,
    domain: str,
    prefix: Sequence[str],
    own: MemberStatus | None,
) -> dict[str, Any]:
    fqdns = [f"{m.pod}.{domain}" for m in members]
    node_ids = [str(m.node_id) for m in members]
    app_role = app.role(role_id)
    services = app_role.services if app_role is not None else ()
    return {
        "services": {
            s.id: {
                "qualifiers": [],
                "name": s.label_name,
                "id": s.id,
                "hostnames": _ref(prefix, "nodegroups", NODEGROUP, "roles", role_id, "hostnames"),
                "global_id": f"{NODEGROUP}_{role_id}_{s.id}",
                "fqdns": _ref(prefix, "nodegroups", NODEGROUP, "roles", role_id, "fqdns"),
                "exported_service": s.exported_service or "",
                "endpoints": (
                    [f"{s.endpoint.url_scheme or ''}://{f}:{s.endpoint.port}" for f in fqdns]
                    if s.endpoint is not None
                    else []
                ),
                "authToken": (
                    _auth_token(members, own)
                    if s.endpoint is not None and s.endpoint.has_auth_token
                    else ""
                ),
            }
            for s in services
        },
        "node_ids": node_ids,
        "hostnames": fqdns,
        "fqdns": fqdns,
        "fqdn_mappings": dict(zip(fqdns, node_ids, strict=True)),
        "flavor": _flavor(spec_role),
    }


def _auth_token(members: list[MemberStatus], own: MemberStatus | None) -> str:
    """The member's own token in its own role, so the app it configures accepts the
    token recorded for it; elsewhere the original's choice, the last member's.
    """
    chosen = own if own is not None and own in members else members[-1]
    return chosen.auth_token or ""


def _flavor(spec_role: ClusterRole | None) -> dict[str, str]:
    """Whole cores (rounded up) and MiB, from limits else requests, as strings."""
    limits = spec_role.limits if spec_role is not None else {}
    requests = spec_role.requests if spec_role is not None else {}
    cpu = limits.get("cpu") or requests.get("cpu")
    memory = limits.get("memory") or requests.get("memory")
    cores = math.ceil(parse_quantity(cpu)) if cpu else 0
    memory_mib = math.ceil(parse_quantity(memory)) // _MIB if memory else 0
    return {
        "storage": "n/a",
        "name": "n/a",
        "memory": str(memory_mib),
        "description": "n/a",
        "cores": str(cores),
    }


def _secret_keys(spec_role: ClusterRole | None, config: Config) -> dict[str, str]:
    """The role's secret keys in the clear: configmeta is the only place they are."""
    out: dict[str, str] = {}
    for key in spec_role.secret_keys if spec_role is not None else ():
        if key.encrypted_value is not None:
            if not config.master_encryption_key:
                raise SecretKeyError(
                    f"secret key {key.name!r}: no masterEncryptionKey to decrypt it"
                )
            out[key.name] = decrypt(key.encrypted_value, config.master_encryption_key)
        elif key.value is not None:
            out[key.name] = key.value
    return out


def _block_device_paths(spec_role: ClusterRole | None, member: MemberStatus) -> list[str]:
    """As recorded in status, else as the role's block storage places them."""
    if member.block_device_paths:
        return list(member.block_device_paths)
    if spec_role is not None and spec_role.block_storage is not None:
        return block_device_paths(spec_role.block_storage)
    return []


def _connected_clusters(
    cluster: Cluster, connections: ConnectionsData, config: Config
) -> dict[str, Any]:
    """Each connected cluster's topology (no node, no secret keys, no connections)."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(cluster.connections.clusters):
        connected = connections.clusters.get(name)
        if connected is None:
            continue
        other = connected.cluster
        out[name] = _topology(
            connected.app,
            other,
            _listed_members(other, other.status),
            _domain(other, other.status, config),
            prefix=(*_CONNECTED_PREFIX, name),
            own=None,
        )
    return out


def _connected_configmaps(
    names: Iterable[str], connections: ConnectionsData
) -> dict[str, list[dict[str, Any]]]:
    """`<cmType>: [{metadata: {name}, data, labels, annotations}]`, in spec order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in dict.fromkeys(names):
        obj = connections.configmaps.get(name)
        meta = (obj or {}).get("metadata") or {}
        labels = meta.get("labels") or {}
        if obj is None or CONFIGMAP_TYPE_LABEL not in labels:
            continue
        out.setdefault(labels[CONFIGMAP_TYPE_LABEL], []).append(
            {
                "metadata": {"name": meta.get("name", name)},
                "data": dict(obj.get("data") or {}),
                "labels": dict(labels),
                "annotations": dict(meta.get("annotations") or {}),
            }
        )
    return out


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _connected_secrets(
    names: Iterable[str], connections: ConnectionsData
) -> dict[str, list[dict[str, Any]]]:
    """Like the ConfigMaps, but every value is base64: the original marshalled them all
    as byte strings (`data` already is base64 in the API object), and images decode them.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for name in dict.fromkeys(names):
        obj = connections.secrets.get(name)
        meta = (obj or {}).get("metadata") or {}
        labels = meta.get("labels") or {}
        if obj is None or SECRET_TYPE_LABEL not in labels:
            continue
        out.setdefault(labels[SECRET_TYPE_LABEL], []).append(
            {
                "metadata": {"name": _b64(meta.get("name", name))},
                "data": dict(obj.get("data") or {}),
                "labels": {k: _b64(v) for k, v in labels.items()},
                "annotations": {k: _b64(v) for k, v in (meta.get("annotations") or {}).items()},
            }
        )
    return out
