"""KubeDirectorCluster: a running instance of an app, with defaults resolved.

`serviceType` and `namingScheme` default from the KubeDirectorConfig, a role's
`members` from its app cardinality, its secret from `defaultSecret` and its
storage class from the config's `defaultStorageClassName`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubedirector.api.app import App
from kubedirector.api.config import Config
from kubedirector.api.constants import AppCatalog
from kubedirector.api.errors import SpecError
from kubedirector.api.fields import FieldReader, join
from kubedirector.api.status import ClusterStatus


@dataclass(frozen=True)
class SecretMount:
    name: str
    mount_path: str
    default_mode: int | None = None
    read_only: bool = False


@dataclass(frozen=True)
class Storage:
    size: str
    storage_class_name: str | None = None


@dataclass(frozen=True)
class BlockStorage:
    size: str
    num_devices: int
    path_prefix: str
    storage_class_name: str | None = None


@dataclass(frozen=True)
class FileInjection:
    src_url: str
    dest_dir: str
    file_mode: str | None = None
    file_owner: str | None = None
    file_group: str | None = None


@dataclass(frozen=True)
class SecretKey:
    """A secret value for configmeta; stored encrypted once admission has run."""

    name: str
    value: str | None = None
    encrypted_value: str | None = None


@dataclass(frozen=True)
class VolumeProjection:
    pvc_name: str
    mount_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Connections:
    clusters: tuple[str, ...] = ()
    configmaps: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class DisruptionBudget:
    """A role's PodDisruptionBudget as the spec asks for it (`disruptionBudget`).

    Setting the field at all asks for a budget, even for a one-member role;
    `enabled: false` asks for none.
    """

    enabled: bool = True
    max_unavailable: int | str = 1


class UnresponsiveAction(StrEnum):
    """What the operator does about an unresponsive member."""

    RESTART = "restart"
    NONE = "none"


@dataclass(frozen=True)
class UnresponsivePolicy:
    """A role's `unresponsivePolicy`: a member whose pod has not been Ready for
    `after_seconds` is reported unresponsive, and restarted if `action` says so."""

    action: UnresponsiveAction = UnresponsiveAction.NONE
    after_seconds: int = 300


@dataclass(frozen=True)
class ClusterRole:
    id: str
    members: int | None
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    storage: Storage | None = None
    block_storage: BlockStorage | None = None
    env: tuple[dict[str, Any], ...] = ()
    pod_labels: dict[str, str] = field(default_factory=dict)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    service_labels: dict[str, str] = field(default_factory=dict)
    service_annotations: dict[str, str] = field(default_factory=dict)
    affinity: dict[str, Any] | None = None
    secret: SecretMount | None = None
    service_account_name: str | None = None
    file_injections: tuple[FileInjection, ...] = ()
    secret_keys: tuple[SecretKey, ...] = ()
    volume_projections: tuple[VolumeProjection, ...] = ()
    shared_memory: str | None = None
    disruption_budget: DisruptionBudget | None = None
    unresponsive_policy: UnresponsivePolicy = field(default_factory=UnresponsivePolicy)

    def resources(self) -> dict[str, dict[str, str]]:
        """The container `resources` as Kubernetes takes them."""
        out: dict[str, dict[str, str]] = {}
        if self.limits:
            out["limits"] = dict(self.limits)
        if self.requests:
            out["requests"] = dict(self.requests)
        return out


@dataclass(frozen=True)
class Cluster:
    name: str
    namespace: str
    uid: str
    generation: int
    app_name: str
    app_catalog: str | None
    service_type: str
    naming_scheme: str
    roles: tuple[ClusterRole, ...]
    default_secret: SecretMount | None = None
    connections: Connections = field(default_factory=Connections)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    deleting: bool = False
    paused: bool = False
    status: ClusterStatus = field(default_factory=ClusterStatus)

    def role(self, role_id: str) -> ClusterRole | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def catalog_for(self, app: App) -> str:
        """The catalog the app came from: as set, else by where the app lives."""
        if self.app_catalog:
            return self.app_catalog
        return (AppCatalog.LOCAL if app.namespace == self.namespace else AppCatalog.SYSTEM).value

    @classmethod
    def from_dict(
        cls, doc: Mapping[str, Any], config: Config | None = None, app: App | None = None
    ) -> Cluster:
        """Parse a stored KubeDirectorCluster, resolving defaults from config and app.

        Without the app, roles that set no `members` read as None.
        Raises SpecError naming every malformed field (status included).
        """
        config = config or Config()
        r = FieldReader()
        doc = r.mapping(doc, "")
        meta = r.mapping(doc.get("metadata"), "metadata")
        spec = r.mapping(doc.get("spec"), "spec")
        default_secret = _secret(r, spec, "defaultSecret", "spec")
        conns = r.mapping(spec.get("connections"), "spec.connections")
        if spec.get("roles") is None:
            r.fail("spec.roles", "is required")
        roles = tuple(
            _role(r, raw, join("spec.roles", i), config, app=app, default_secret=default_secret)
            for i, raw in enumerate(r.objects(spec, "roles", "spec"))
        )
        generation = r.integer(meta, "generation", "metadata")
        cluster = cls(
            name=r.string(meta, "name", "metadata"),
            namespace=r.string(meta, "namespace", "metadata"),
            uid=r.string(meta, "uid", "metadata"),
            generation=generation or 0,
            app_name=r.string(spec, "app", "spec", required=True),
            app_catalog=r.opt_string(spec, "appCatalog", "spec") or None,
            service_type=r.string(spec, "serviceType", "spec") or config.default_service_type,
            naming_scheme=r.string(spec, "namingScheme", "spec") or config.default_naming_scheme,
            roles=roles,
            default_secret=default_secret,
            connections=Connections(
                clusters=r.strings(conns, "clusters", "spec.connections"),
                configmaps=r.strings(conns, "configmaps", "spec.connections"),
                secrets=r.strings(conns, "secrets", "spec.connections"),
            ),
            labels=r.string_map(meta, "labels", "metadata"),
            annotations=r.string_map(meta, "annotations", "metadata"),
            finalizers=r.strings(meta, "finalizers", "metadata"),
            deleting=meta.get("deletionTimestamp") is not None,
            paused=r.boolean(spec, "paused", "spec"),
            status=_status(r, doc.get("status")),
        )
        r.raise_if_failed()
        return cluster


def _status(r: FieldReader, raw: Any) -> ClusterStatus:
    try:
        return ClusterStatus.from_dict(raw)
    except SpecError as exc:
        r.errors.extend(exc.errors)
        return ClusterStatus()


def _secret(r: FieldReader, obj: Mapping[str, Any], key: str, path: str) -> SecretMount | None:
    if obj.get(key) is None:
        return None
    here = join(path, key)
    raw = r.mapping(obj.get(key), here)
    return SecretMount(
        name=r.string(raw, "name", here, required=True),
        mount_path=r.string(raw, "mountPath", here, required=True),
        default_mode=r.integer(raw, "defaultMode", here),
        read_only=r.boolean(raw, "readOnly", here),
    )


def _role(
    r: FieldReader,
    raw: Mapping[str, Any],
    path: str,
    config: Config,
    *,
    app: App | None,
    default_secret: SecretMount | None,
) -> ClusterRole:
    role_id = r.string(raw, "id", path, required=True)
    members = r.integer(raw, "members", path)
    if members is None and app is not None:
        app_role = app.role(role_id)
        if app_role is not None and app_role.cardinality is not None:
            members = app_role.cardinality.count
    res_path = join(path, "resources")
    resources = r.mapping(raw.get("resources"), res_path)
    storage = None
    if raw.get("storage") is not None:
        st_path = join(path, "storage")
        st = r.mapping(raw.get("storage"), st_path)
        storage = Storage(
            size=r.string(st, "size", st_path, required=True),
            storage_class_name=r.opt_string(st, "storageClassName", st_path)
            or config.default_storage_class_name,
        )
    block = None
    if raw.get("blockStorage") is not None:
        bs_path = join(path, "blockStorage")
        bs = r.mapping(raw.get("blockStorage"), bs_path)
        num_devices = r.integer(bs, "numDevices", bs_path)
        block = BlockStorage(
            size=r.string(bs, "size", bs_path, required=True),
            num_devices=1 if num_devices is None else num_devices,
            path_prefix=r.string(bs, "pathPrefix", bs_path, required=True),
            storage_class_name=r.opt_string(bs, "storageClassName", bs_path)
            or config.default_storage_class_name,
        )
    shared_memory = raw.get("sharedMemory")
    if shared_memory is not None and not isinstance(shared_memory, str | int):
        r.fail(join(path, "sharedMemory"), "must be a quantity")
        shared_memory = None
    return ClusterRole(
        id=role_id,
        members=members,
        requests=r.quantity_map(resources, "requests", res_path),
        limits=r.quantity_map(resources, "limits", res_path),
        storage=storage,
        block_storage=block,
        env=tuple(dict(e) for e in r.objects(raw, "env", path)),
        pod_labels=r.string_map(raw, "podLabels", path),
        pod_annotations=r.string_map(raw, "podAnnotations", path),
        service_labels=r.string_map(raw, "serviceLabels", path),
        service_annotations=r.string_map(raw, "serviceAnnotations", path),
        affinity=r.raw(raw, "affinity", path),
        secret=_secret(r, raw, "secret", path) or default_secret,
        service_account_name=r.opt_string(raw, "serviceAccountName", path) or None,
        file_injections=tuple(
            _file_injection(r, fi, join(join(path, "fileInjections"), i))
            for i, fi in enumerate(r.objects(raw, "fileInjections", path))
        ),
        secret_keys=tuple(
            SecretKey(
                name=r.string(sk, "name", join(join(path, "secretKeys"), i), required=True),
                value=r.opt_string(sk, "value", join(join(path, "secretKeys"), i)),
                encrypted_value=r.opt_string(
                    sk, "encryptedValue", join(join(path, "secretKeys"), i)
                ),
            )
            for i, sk in enumerate(r.objects(raw, "secretKeys", path))
        ),
        volume_projections=tuple(
            VolumeProjection(
                pvc_name=r.string(
                    vp, "pvcName", join(join(path, "volumeProjections"), i), required=True
                ),
                mount_path=r.string(
                    vp, "mountPath", join(join(path, "volumeProjections"), i), required=True
                ),
                read_only=r.boolean(vp, "readOnly", join(join(path, "volumeProjections"), i)),
            )
            for i, vp in enumerate(r.objects(raw, "volumeProjections", path))
        ),
        shared_memory=None if shared_memory is None else str(shared_memory),
        disruption_budget=_disruption_budget(r, raw, path),
        unresponsive_policy=_unresponsive_policy(r, raw, path),
    )


def _unresponsive_policy(r: FieldReader, raw: Mapping[str, Any], path: str) -> UnresponsivePolicy:
    if raw.get("unresponsivePolicy") is None:
        return UnresponsivePolicy()
    here = join(path, "unresponsivePolicy")
    policy = r.mapping(raw.get("unresponsivePolicy"), here)
    action = r.opt_string(policy, "action", here) or UnresponsiveAction.NONE.value
    if action not in {a.value for a in UnresponsiveAction}:
        r.fail(join(here, "action"), f"must be restart or none, not {action!r}")
        action = UnresponsiveAction.NONE.value
    after = r.integer(policy, "afterSeconds", here)
    if after is not None and after < 1:
        r.fail(join(here, "afterSeconds"), f"must be at least 1 (seconds), not {after}")
        after = None
    return UnresponsivePolicy(
        action=UnresponsiveAction(action),
        after_seconds=UnresponsivePolicy.after_seconds if after is None else after,
    )


def _disruption_budget(
    r: FieldReader, raw: Mapping[str, Any], path: str
) -> DisruptionBudget | None:
    if raw.get("disruptionBudget") is None:
        return None
    here = join(path, "disruptionBudget")
    budget = r.mapping(raw.get("disruptionBudget"), here)
    max_unavailable = budget.get("maxUnavailable")
    if max_unavailable is None:
        max_unavailable = 1
    elif isinstance(max_unavailable, bool) or not isinstance(max_unavailable, int | str):
        r.fail(join(here, "maxUnavailable"), "must be an integer or a percentage such as '25%'")
        max_unavailable = 1
    return DisruptionBudget(
        enabled=r.boolean(budget, "enabled", here, default=True), max_unavailable=max_unavailable
    )


def _file_injection(r: FieldReader, raw: Mapping[str, Any], path: str) -> FileInjection:
    perm_path = join(path, "permissions")
    perms = r.mapping(raw.get("permissions"), perm_path)
    mode = perms.get("fileMode")
    return FileInjection(
        src_url=r.string(raw, "srcURL", path, required=True),
        dest_dir=r.string(raw, "destDir", path, required=True),
        file_mode=None if mode is None else str(mode),
        file_owner=r.opt_string(perms, "fileOwner", perm_path),
        file_group=r.opt_string(perms, "fileGroup", perm_path),
    )
