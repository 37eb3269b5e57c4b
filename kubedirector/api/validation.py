"""Admission rules (api.md section 6) as pure functions returning FieldErrors.

The admission webhook and the reconciler share these, so a spec the webhook
would refuse is reported the same way when the reconciler meets it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from kubedirector.api import k8snames
from kubedirector.api.app import App, AppRole
from kubedirector.api.cluster import BlockStorage, Cluster, ClusterRole, Storage
from kubedirector.api.config import Config
from kubedirector.api.constants import (
    ANNOTATION_STATUS_BACKUP_EXISTS,
    GLOBAL_CONFIG_NAME,
    MAX_CLUSTER_MEMBERS,
    AppCatalog,
    Event,
    NamingScheme,
    ServiceType,
)
from kubedirector.api.errors import FieldError, SpecError
from kubedirector.api.fields import join
from kubedirector.api.mounts import CGROUP_PATH, SHM_PATH, SYSTEMD_PATH, persisted_dirs
from kubedirector.api.quantity import QuantityError, parse_quantity
from kubedirector.api.secretkeys import SecretKeyError, decrypt, key_error

MIN_CONFIG_SCHEMA_VERSION = 7
_PACKAGE_SCHEMES = ("file", "http", "https")
# What may change on a role that has members: its size and its disruption budget,
# neither of which touches the members' pods.
MUTABLE_ROLE_KEYS = frozenset({"id", "members", "disruptionBudget", "unresponsivePolicy"})


def _mapping(value: Any) -> Mapping[str, Any]:
    """A stored object or nothing: update checks must not trip over malformed input."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _choices(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def _one_of(
    value: str, allowed: type[ServiceType | NamingScheme | AppCatalog], path: str
) -> list[FieldError]:
    choices = [v.value for v in allowed]
    if value in choices:
        return []
    return [FieldError(path, f"{value!r} is not one of {', '.join(choices)}")]


def _absolute(path_value: str, path: str) -> list[FieldError]:
    if posixpath.isabs(path_value):
        return []
    return [FieldError(path, f"{path_value!r} must be an absolute path")]


def _quantity(value: str, path: str) -> Decimal | FieldError:
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        return FieldError(path, str(exc))


def _labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    errors = []
    for key, value in labels.items():
        problem = k8snames.qualified_name_error(key)
        if problem:
            errors.append(FieldError(join(path, key), f"label key {key!r} {problem}"))
        problem = k8snames.label_value_error(value)
        if problem:
            errors.append(FieldError(join(path, key), f"label value {value!r} {problem}"))
    return errors


def _annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    errors = []
    for key in annotations:
        problem = k8snames.qualified_name_error(key)
        if problem:
            errors.append(FieldError(join(path, key), f"annotation key {key!r} {problem}"))
    return errors


# ---- apps -------------------------------------------------------------------------------


def validate_app(doc: Mapping[str, Any]) -> list[FieldError]:
    """Every problem with a KubeDirectorApp document."""
    try:
        app = App.from_dict(doc)
    except SpecError as exc:
        return exc.errors
    return check_app(app, doc)


def check_app(app: App, doc: Mapping[str, Any]) -> list[FieldError]:
    """Every problem with an app already parsed from `doc` (the reconciler parses once)."""
    spec: Mapping[str, Any] = doc["spec"]
    errors: list[FieldError] = []
    if (app.config_schema_version or 0) < MIN_CONFIG_SCHEMA_VERSION:
        errors.append(
            FieldError("spec.configSchemaVersion", f"must be at least {MIN_CONFIG_SCHEMA_VERSION}")
        )
    errors += _app_services(app)
    errors += _app_roles(app, spec)
    errors += _app_config(app)
    if app.default_config_package is not None:
        errors += _package_url(
            app.default_config_package.package_url, "spec.defaultConfigPackage.packageURL"
        )
    errors += _persist_dirs(spec.get("defaultPersistDirs") or (), "spec.defaultPersistDirs")
    errors += _event_list(spec.get("defaultEventList") or (), "spec.defaultEventList")
    return errors


def _app_services(app: App) -> list[FieldError]:
    errors = []
    seen: set[str] = set()
    for i, service in enumerate(app.services):
        path = join("spec.services", i)
        if service.id in seen:
            errors.append(FieldError(join(path, "id"), f"duplicate service id {service.id!r}"))
        seen.add(service.id)
        problem = k8snames.port_name_error(service.id)
        if problem:
            errors.append(FieldError(join(path, "id"), f"service id {service.id!r} {problem}"))
        endpoint = service.endpoint
        if endpoint is None:
            continue
        if not 1 <= endpoint.port <= 65535:
            errors.append(
                FieldError(join(path, "endpoint.port"), f"{endpoint.port} is not a port (1-65535)")
            )
        if endpoint.is_dashboard and not endpoint.url_scheme:
            errors.append(
                FieldError(
                    join(path, "endpoint.isDashboard"), "a dashboard endpoint needs a urlScheme"
                )
            )
    return errors


def _app_roles(app: App, spec: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    seen: set[str] = set()
    for i, role in enumerate(app.roles):
        path = join("spec.roles", i)
        raw: Mapping[str, Any] = spec["roles"][i]
        if role.id in seen:
            errors.append(FieldError(join(path, "id"), f"duplicate role id {role.id!r}"))
        seen.add(role.id)
        problem = k8snames.label_value_error(role.id)
        if problem:
            errors.append(FieldError(join(path, "id"), f"{problem} (the role id is a label value)"))
        if role.image is None:
            errors.append(
                FieldError(
                    join(path, "imageRepoTag"),
                    f"role {role.id!r} has no image and the app sets no defaultImageRepoTag",
                )
            )
        if role.tty and not role.stdin:
            errors.append(
                FieldError(
                    join(path, "containerSpec.tty"), "tty needs stdin: set containerSpec.stdin too"
                )
            )
        if role.min_storage is not None:
            parsed = _quantity(role.min_storage.size, join(path, "minStorage.size"))
            if isinstance(parsed, FieldError):
                errors.append(parsed)
        for key, value in role.min_resources.items():
            parsed = _quantity(value, join(join(path, "minResources"), key))
            if isinstance(parsed, FieldError):
                errors.append(parsed)
        if raw.get("configPackage") is not None and role.config_package is not None:
            errors += _package_url(
                role.config_package.package_url, join(path, "configPackage.packageURL")
            )
        errors += _persist_dirs(raw.get("persistDirs") or (), join(path, "persistDirs"))
        errors += _event_list(raw.get("eventList") or (), join(path, "eventList"))
    return errors


def _app_config(app: App) -> list[FieldError]:
    errors = []
    role_ids = {r.id for r in app.roles}
    service_ids = {s.id for s in app.services}
    for i, role_id in enumerate(app.selected_roles):
        if role_id not in role_ids:
            errors.append(
                FieldError(
                    join("spec.config.selectedRoles", i),
                    f"unknown role {role_id!r} (roles: {_choices(role_ids)})",
                )
            )
    for i, (role_id, sids) in enumerate(app.role_services):
        path = join("spec.config.roleServices", i)
        if role_id not in role_ids:
            errors.append(
                FieldError(
                    join(path, "roleID"), f"unknown role {role_id!r} (roles: {_choices(role_ids)})"
                )
            )
        for j, sid in enumerate(sids):
            if sid not in service_ids:
                errors.append(
                    FieldError(
                        join(join(path, "serviceIDs"), j),
                        f"unknown service {sid!r} (services: {_choices(service_ids)})",
                    )
                )
    return errors


def _package_url(url: str, path: str) -> list[FieldError]:
    if urlparse(url).scheme in _PACKAGE_SCHEMES:
        return []
    return [FieldError(path, f"{url!r} must be a file://, http:// or https:// URL")]


def _persist_dirs(dirs: Iterable[Any], path: str) -> list[FieldError]:
    errors = []
    for i, d in enumerate(dirs):
        errors += _absolute(str(d), join(path, i))
        if posixpath.normpath(str(d)) == "/":
            errors.append(FieldError(join(path, i), "cannot persist the root directory"))
    return errors


def _event_list(events: Iterable[Any], path: str) -> list[FieldError]:
    allowed = [e.value for e in Event]
    return [
        FieldError(join(path, i), f"{e!r} is not one of {', '.join(allowed)}")
        for i, e in enumerate(events)
        if e not in allowed
    ]


def validate_app_update(
    old: Mapping[str, Any], new: Mapping[str, Any], in_use: bool
) -> list[FieldError]:
    """An app's spec is frozen while clusters use it (they were built from it)."""
    errors = validate_app(new)
    if in_use and old.get("spec") != new.get("spec"):
        name = _mapping(new.get("metadata")).get("name", "")
        errors.append(
            FieldError("spec", f"app {name!r} is in use by clusters: its spec cannot change")
        )
    return errors


def validate_app_delete(name: str, users: Iterable[str]) -> list[FieldError]:
    """An app used by clusters cannot be deleted; `users` names those clusters."""
    users = sorted(users)
    if not users:
        return []
    return [FieldError("metadata.name", f"app {name!r} is in use by clusters: {', '.join(users)}")]


# ---- clusters ---------------------------------------------------------------------------


def validate_cluster(
    doc: Mapping[str, Any], app: App | None, config: Config, storage_classes: set[str] | None = None
) -> list[FieldError]:
    """Every problem with a KubeDirectorCluster document, judged against its app.

    `app` is None when no app of that name exists; `storage_classes` None skips
    the storage-class existence check.
    """
    try:
        cluster = Cluster.from_dict(doc, config, app)
    except SpecError as exc:
        return exc.errors
    return check_cluster(cluster, doc, app, config, storage_classes)


def check_cluster(
    cluster: Cluster,
    doc: Mapping[str, Any],
    app: App | None,
    config: Config,
    storage_classes: set[str] | None = None,
) -> list[FieldError]:
    """Every problem with a cluster already parsed from `doc` (the reconciler parses once)."""
    spec: Mapping[str, Any] = doc["spec"]
    errors: list[FieldError] = []
    if len(cluster.name) > k8snames.LABEL_MAX:
        errors.append(
            FieldError(
                "metadata.name",
                f"must be at most {k8snames.LABEL_MAX} characters (it is used as a label value)",
            )
        )
    errors += _one_of(cluster.service_type, ServiceType, "spec.serviceType")
    errors += _one_of(cluster.naming_scheme, NamingScheme, "spec.namingScheme")
    if cluster.app_catalog is not None:
        errors += _one_of(cluster.app_catalog, AppCatalog, "spec.appCatalog")
    errors += _secret_prefix(spec.get("defaultSecret"), config, "spec.defaultSecret")
    if app is None:
        catalog = f" in catalog {cluster.app_catalog!r}" if cluster.app_catalog else ""
        errors.append(FieldError("spec.app", f"unknown app {cluster.app_name!r}{catalog}"))
    seen: set[str] = set()
    for i, role in enumerate(cluster.roles):
        path = join("spec.roles", i)
        raw: Mapping[str, Any] = spec["roles"][i]
        if role.id in seen:
            errors.append(FieldError(join(path, "id"), f"duplicate role {role.id!r}"))
        seen.add(role.id)
        errors += _cluster_role(role, raw, path, config, storage_classes)
        if app is not None:
            errors += _role_against_app(role, raw, path, app, config)
    if app is not None:
        errors += _required_roles(cluster, app)
    total = sum(r.members or 0 for r in cluster.roles)
    if total > MAX_CLUSTER_MEMBERS:
        errors.append(
            FieldError(
                "spec.roles", f"{total} members in all; at most {MAX_CLUSTER_MEMBERS} are allowed"
            )
        )
    return errors


def _cluster_role(
    role: ClusterRole,
    raw: Mapping[str, Any],
    path: str,
    config: Config,
    storage_classes: set[str] | None,
) -> list[FieldError]:
    errors: list[FieldError] = []
    if role.members is not None and role.members < 0:
        errors.append(FieldError(join(path, "members"), "must not be negative"))
    errors += _resources(role, join(path, "resources"))
    if role.storage is not None:
        errors += _storage(role.storage, raw["storage"], join(path, "storage"), storage_classes)
    if role.block_storage is not None:
        errors += _block_storage(
            role.block_storage, raw["blockStorage"], join(path, "blockStorage"), storage_classes
        )
    errors += _labels(role.pod_labels, join(path, "podLabels"))
    errors += _labels(role.service_labels, join(path, "serviceLabels"))
    errors += _annotations(role.pod_annotations, join(path, "podAnnotations"))
    errors += _annotations(role.service_annotations, join(path, "serviceAnnotations"))
    errors += _secret_prefix(raw.get("secret"), config, join(path, "secret"))
    if role.secret is not None:
        errors += _absolute(role.secret.mount_path, join(path, "secret.mountPath"))
    for j, env in enumerate(role.env):
        if not isinstance(env.get("name"), str) or not env["name"]:
            errors.append(FieldError(join(join(path, "env"), j) + ".name", "is required"))
    for j, inj in enumerate(role.file_injections):
        inj_path = join(join(path, "fileInjections"), j)
        if urlparse(inj.src_url).scheme not in _PACKAGE_SCHEMES:
            errors.append(
                FieldError(
                    join(inj_path, "srcURL"),
                    f"{inj.src_url!r} must be a file://, http:// or https:// URL",
                )
            )
        errors += _absolute(inj.dest_dir, join(inj_path, "destDir"))
    for j, key in enumerate(role.secret_keys):
        if key.value is None and key.encrypted_value is None:
            errors.append(
                FieldError(join(join(path, "secretKeys"), j), "needs a value or an encryptedValue")
            )
    for j, projection in enumerate(role.volume_projections):
        errors += _absolute(
            projection.mount_path, join(join(path, "volumeProjections"), j) + ".mountPath"
        )
    if role.shared_memory is not None:
        parsed = _quantity(role.shared_memory, join(path, "sharedMemory"))
        if isinstance(parsed, FieldError):
            errors.append(parsed)
        elif parsed <= 0:
            errors.append(FieldError(join(path, "sharedMemory"), "must be greater than zero"))
    if role.disruption_budget is not None:
        errors += _max_unavailable(
            role.disruption_budget.max_unavailable, join(path, "disruptionBudget.maxUnavailable")
        )
    return errors


def _max_unavailable(value: int | str, path: str) -> list[FieldError]:
    """A PodDisruptionBudget's maxUnavailable: a count, or a percentage of the members."""
    if isinstance(value, int):
        return [] if value >= 0 else [FieldError(path, "must not be negative")]
    digits = value.removesuffix("%")
    if value.endswith("%") and digits.isdigit() and int(digits) <= 100:
        return []
    return [FieldError(path, f"{value!r} must be an integer or a percentage from '0%' to '100%'")]


def _resources(role: ClusterRole, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    parsed: dict[tuple[str, str], Decimal] = {}
    for kind, values in (("requests", role.requests), ("limits", role.limits)):
        for key, value in values.items():
            result = _quantity(value, join(join(path, kind), key))
            if isinstance(result, FieldError):
                errors.append(result)
            else:
                parsed[(kind, key)] = result
    for key in ("cpu", "memory"):
        if key not in role.limits:
            errors.append(FieldError(join(path, f"limits.{key}"), "is required"))
    for (kind, key), request in parsed.items():
        limit = parsed.get(("limits", key))
        if kind == "requests" and limit is not None and request > limit:
            errors.append(
                FieldError(
                    join(path, f"requests.{key}"),
                    f"{role.requests[key]} exceeds the limit {role.limits[key]}",
                )
            )
    return errors


def _storage_class(
    name: str | None, raw: Mapping[str, Any], path: str, storage_classes: set[str] | None
) -> list[FieldError]:
    if storage_classes is None or name is None or name in storage_classes:
        return []
    origin = (
        ""
        if raw.get("storageClassName")
        else (" (the KubeDirectorConfig's defaultStorageClassName)")
    )
    return [
        FieldError(join(path, "storageClassName"), f"StorageClass {name!r}{origin} does not exist")
    ]


def _storage(
    storage: Storage, raw: Mapping[str, Any], path: str, storage_classes: set[str] | None
) -> list[FieldError]:
    errors = _storage_class(storage.storage_class_name, raw, path, storage_classes)
    parsed = _quantity(storage.size, join(path, "size"))
    if isinstance(parsed, FieldError):
        errors.append(parsed)
    elif parsed <= 0:
        errors.append(FieldError(join(path, "size"), "must be greater than zero"))
    return errors


def _block_storage(
    block: BlockStorage, raw: Mapping[str, Any], path: str, storage_classes: set[str] | None
) -> list[FieldError]:
    errors = _storage_class(block.storage_class_name, raw, path, storage_classes)
    if block.num_devices < 1:
        errors.append(FieldError(join(path, "numDevices"), "must be at least 1"))
    errors += _absolute(block.path_prefix, join(path, "pathPrefix"))
    parsed = _quantity(block.size, join(path, "size"))
    if isinstance(parsed, FieldError):
        errors.append(parsed)
    return errors


def _secret_prefix(raw: Any, config: Config, path: str) -> list[FieldError]:
    prefix = config.required_secret_prefix
    if not prefix or not isinstance(raw, Mapping):
        return []
    name = raw.get("name")
    if isinstance(name, str) and not name.startswith(prefix):
        return [
            FieldError(
                join(path, "name"),
                f"secret {name!r} must start with {prefix!r} "
                "(the KubeDirectorConfig's requiredSecretPrefix)",
            )
        ]
    return []


def _role_against_app(
    role: ClusterRole, raw: Mapping[str, Any], path: str, app: App, config: Config
) -> list[FieldError]:
    app_role = app.role(role.id)
    if app_role is None:
        return [
            FieldError(
                join(path, "id"),
                f"role {role.id!r} is not a role of app {app.name!r} "
                f"(its roles: {_choices(r.id for r in app.roles)})",
            )
        ]
    errors: list[FieldError] = []
    card = app_role.cardinality
    members = role.members
    if card is not None and members is not None and members >= 0 and not card.allows(members):
        errors.append(
            FieldError(
                join(path, "members"),
                f"{role.members} members do not fit the cardinality "
                f"{str(card)!r} of role {role.id!r}",
            )
        )
    errors += _min_resources(role, app_role, app, join(path, "resources"))
    errors += _min_storage(role, app_role, raw, path)
    errors += _mount_clashes(role, app_role, app, config, path)
    return errors


def _mount_clashes(
    role: ClusterRole, app_role: AppRole, app: App, config: Config, path: str
) -> list[FieldError]:
    """Two volumes mounted at one path: Kubernetes refuses the pod template."""
    mounts: list[tuple[str, str, str]] = []  # (normalised path, field, what mounts there)
    if role.storage is not None:
        for d in persisted_dirs(app_role):
            mounts.append((d, join(path, "storage"), f"persistent directory {d}"))
    if app.systemd_required and not config.native_systemd_support:
        for d in (CGROUP_PATH, SYSTEMD_PATH):
            mounts.append((d, "", "the systemd cgroup mounts"))
    if role.shared_memory is not None:
        mounts.append((SHM_PATH, join(path, "sharedMemory"), "sharedMemory"))
    if role.secret is not None:
        mounts.append((role.secret.mount_path, join(path, "secret.mountPath"), "the secret"))
    for j, projection in enumerate(role.volume_projections):
        field_path = join(join(path, "volumeProjections"), j) + ".mountPath"
        mounts.append((projection.mount_path, field_path, f"volume projection {j}"))
    errors = []
    seen: dict[str, str] = {}
    for mount_path, field_path, what in mounts:
        normal = posixpath.normpath(mount_path)
        if normal in seen and field_path:
            errors.append(
                FieldError(
                    field_path, f"{mount_path!r} is already the mount path of {seen[normal]}"
                )
            )
        seen.setdefault(normal, what)
    return errors


def _min_resources(role: ClusterRole, app_role: AppRole, app: App, path: str) -> list[FieldError]:
    errors = []
    for key, minimum in app_role.min_resources.items():
        # Kubernetes takes an unset request from the limit.
        requested = role.requests.get(key, role.limits.get(key))
        field_path = join(join(path, "requests"), key)
        if requested is None:
            errors.append(
                FieldError(
                    field_path,
                    f"is required: app {app.name!r} needs at least {minimum} for role {role.id!r}",
                )
            )
            continue
        try:
            below = parse_quantity(requested) < parse_quantity(minimum)
        except QuantityError:
            continue  # reported by the resource or app checks
        if below:
            errors.append(
                FieldError(
                    field_path,
                    f"{requested} is below the minimum {minimum} "
                    f"that app {app.name!r} sets for role "
                    f"{role.id!r}",
                )
            )
    return errors


def _min_storage(
    role: ClusterRole, app_role: AppRole, raw: Mapping[str, Any], path: str
) -> list[FieldError]:
    minimum = app_role.min_storage
    if minimum is None:
        return []
    if role.storage is None:
        if app_role.needs_storage:
            return [
                FieldError(
                    join(path, "storage"),
                    f"is required: role {role.id!r} needs at least "
                    f"{minimum.size} of persistent storage",
                )
            ]
        return []
    try:
        below = parse_quantity(role.storage.size) < parse_quantity(minimum.size)
    except QuantityError:
        return []  # reported by the storage or app checks
    if below:
        return [
            FieldError(
                join(path, "storage.size"),
                f"{raw['storage'].get('size')} is below the minimum {minimum.size} "
                f"for role {role.id!r}",
            )
        ]
    return []


def _required_roles(cluster: Cluster, app: App) -> list[FieldError]:
    present = {r.id for r in cluster.roles}
    errors = []
    for role_id in app.selected_roles:
        app_role = app.role(role_id)
        if app_role is None or app_role.cardinality is None or role_id in present:
            continue
        if app_role.cardinality.count > 0:
            errors.append(
                FieldError(
                    "spec.roles",
                    f"role {role_id!r} (cardinality "
                    f"{str(app_role.cardinality)!r}) of app {app.name!r} "
                    "is required",
                )
            )
    return errors


def validate_app_change(
    old: Mapping[str, Any], new: Mapping[str, Any], new_app: App | None, old_app: App | None
) -> list[FieldError]:
    """A cluster's `spec.app` may change only as a live upgrade: to an app whose
    `upgradableFrom` admits the current one, or back to the app the latest upgrade
    came from (a rollback)."""
    before = _mapping(old.get("spec")).get("app")
    after = _mapping(new.get("spec")).get("app")
    if before == after:
        return []
    change = f"cannot change from {before!r} to {after!r}"
    if new_app is None or new_app.name != after:
        return [FieldError("spec.app", f"{change}: no such app")]
    record = _mapping(_mapping(old.get("status")).get("upgrade"))
    moving = record.get("phase") in ("Upgrading", "RollingBack")
    if new_app.name == record.get("fromApp") and record.get("phase") in (
        "Upgrading",
        "Upgraded",
        "Failed",
    ):
        return []  # a rollback
    if moving:
        return [
            FieldError(
                "spec.app",
                f"{change} while the cluster moves from "
                f"{record.get('fromApp')!r} to {record.get('toApp')!r} (status.upgrade); "
                f"only a rollback (spec.app: {record.get('fromApp')!r}) is possible now",
            )
        ]
    if old_app is None:
        return [FieldError("spec.app", f"{change}: the current app is not found")]
    if new_app.upgrades_from(old_app):
        return []
    return [
        FieldError(
            "spec.app",
            f"{change}: app {new_app.name!r} does not "
            f"list distroID {old_app.distro_id!r} version {old_app.version!r} in its "
            "spec.upgradableFrom (live upgrade)",
        )
    ]


def validate_cluster_update(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    app: App | None,
    old_app: App | None = None,
) -> list[FieldError]:
    """What may not change on an existing cluster: its catalog, naming scheme, and
    any role property other than `members` while the role has members; its app only
    as a live upgrade (`validate_app_change`, `old_app` being the current one).
    """
    errors: list[FieldError] = validate_app_change(old, new, app, old_app)
    old_spec = _mapping(old.get("spec"))
    new_spec = _mapping(new.get("spec"))
    for key in ("appCatalog", "namingScheme"):
        before, after = old_spec.get(key), new_spec.get(key)
        if before is None:
            continue  # filling in a default is not a change
        if before != after:
            errors.append(
                FieldError(join("spec", key), f"cannot change from {before!r} to {after!r}")
            )
    old_roles = {_role_id(r): r for r in _list(old_spec.get("roles")) if _role_id(r)}
    for i, raw in enumerate(_list(new_spec.get("roles"))):
        if _role_id(raw) not in old_roles:
            continue
        before = old_roles[raw["id"]]
        if not _has_members(old, before, app):
            continue
        for key in sorted((set(before) | set(raw)) - MUTABLE_ROLE_KEYS):
            if not _same_role_property(key, before.get(key), raw.get(key)):
                errors.append(
                    FieldError(
                        join(join("spec.roles", i), key),
                        f"cannot change while role {raw['id']!r} has "
                        "members; only members, disruptionBudget and unresponsivePolicy may change",
                    )
                )
    return errors


def _text(value: Any) -> str:
    """A string field, or "" when the entry is too malformed to have one."""
    return value if isinstance(value, str) else ""


def _role_id(raw: Any) -> str:
    """A role's id, or "" when the entry is too malformed to have one."""
    return _text(_mapping(raw).get("id"))


def _has_members(old: Mapping[str, Any], old_role: Mapping[str, Any], app: App | None) -> bool:
    status_roles = _list(_mapping(old.get("status")).get("roles"))
    if status_roles:
        return any(
            isinstance(r, Mapping) and r.get("id") == old_role.get("id") and r.get("members")
            for r in status_roles
        )
    members = old_role.get("members")
    if members is None and app is not None:
        app_role = app.role(str(old_role.get("id")))
        members = app_role.cardinality.count if app_role and app_role.cardinality else 0
    return bool(members)


def _same_role_property(key: str, before: Any, after: Any) -> bool:
    if key == "resources":
        return bool(_resource_values(before) == _resource_values(after))
    if key == "secretKeys":
        # Admission encrypts each value with a fresh nonce, so only names compare.
        return bool(_names(before) == _names(after))
    return bool(before == after)


def _resource_values(raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    out: dict[str, Any] = {}
    for kind, values in raw.items():
        if not isinstance(values, Mapping):
            out[kind] = values
            continue
        out[kind] = {}
        for key, value in values.items():
            try:
                out[kind][key] = parse_quantity(value)
            except QuantityError:
                out[kind][key] = value
    return out


def _names(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        return []
    return [item.get("name") if isinstance(item, Mapping) else item for item in raw]


def is_restore(doc: Mapping[str, Any]) -> bool:
    """A create that brings back a cluster that existed before: a restore from a backup
    or the adoption of a cluster the original operator made. Both carry the
    annotation the original set on every live cluster (upstream-pods.md 4.2, 5.3)."""
    annotations = _mapping(_mapping(doc.get("metadata")).get("annotations"))
    return ANNOTATION_STATUS_BACKUP_EXISTS in annotations


def _encrypted_values(doc: Mapping[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(field, role id, key name, encryptedValue) of every encrypted secret key."""
    out: list[tuple[str, str, str, Any]] = []
    for i, role in enumerate(_list(_mapping(doc.get("spec")).get("roles"))):
        for j, raw in enumerate(_list(_mapping(role).get("secretKeys"))):
            key = _mapping(raw)
            if key.get("encryptedValue") is not None:
                field_path = join(join(join("spec.roles", i), "secretKeys"), j) + ".encryptedValue"
                out.append(
                    (field_path, _role_id(role), _text(key.get("name")), key["encryptedValue"])
                )
    return out


def validate_encrypted_values(
    new: Mapping[str, Any], old: Mapping[str, Any] | None, config: Config
) -> list[FieldError]:
    """Only admission writes `encryptedValue`s (from `value`): one written by hand could
    be a copy of another cluster's, which the operator would decrypt into this
    cluster's pods. Kept: those the stored cluster already has, unchanged (an
    update), and those of a restored or adopted cluster (`is_restore`), as long as
    they decrypt with the config's key."""
    if old is not None:
        stored = {(r, n): v for _, r, n, v in _encrypted_values(old)}
        return [
            FieldError(f, "cannot change: give a new `value` instead (admission encrypts it)")
            for f, role_id, name, value in _encrypted_values(new)
            if stored.get((role_id, name)) != value
        ]
    if not is_restore(new):
        return [
            FieldError(
                f,
                "only admission writes encrypted values: give the plain `value` "
                "(a restored or adopted cluster carries the annotation "
                f"{ANNOTATION_STATUS_BACKUP_EXISTS})",
            )
            for f, _, _, _ in _encrypted_values(new)
        ]
    errors = []
    key = config.master_encryption_key
    for f, _, _, value in _encrypted_values(new):
        try:
            if key is None:
                raise SecretKeyError("the KubeDirectorConfig has no masterEncryptionKey")
            decrypt(str(value), key)
        except SecretKeyError as exc:
            errors.append(FieldError(f, f"cannot be restored: {exc}"))
    return errors


def clusters_with_encrypted_values(clusters: Iterable[Mapping[str, Any]]) -> list[str]:
    """ "namespace/name" of each live cluster holding values encrypted with the key."""
    users = []
    for c in clusters:
        meta = _mapping(c.get("metadata"))
        if not meta.get("deletionTimestamp") and _encrypted_values(c):
            users.append(f"{meta.get('namespace')}/{meta.get('name')}")
    return sorted(users)


# ---- config -----------------------------------------------------------------------------


def validate_config(doc: Mapping[str, Any], operator_namespace: str) -> list[FieldError]:
    """Every problem with a KubeDirectorConfig document."""
    try:
        config = Config.from_dict(doc)
    except SpecError as exc:
        return exc.errors
    errors: list[FieldError] = []
    if config.name != GLOBAL_CONFIG_NAME:
        errors.append(
            FieldError("metadata.name", f"must be {GLOBAL_CONFIG_NAME!r}, not {config.name!r}")
        )
    if config.namespace != operator_namespace:
        errors.append(
            FieldError(
                "metadata.namespace",
                f"must be the operator's namespace {operator_namespace!r}, "
                f"not {config.namespace!r}",
            )
        )
    errors += _one_of(config.default_service_type, ServiceType, "spec.defaultServiceType")
    errors += _one_of(config.default_naming_scheme, NamingScheme, "spec.defaultNamingScheme")
    if not config.cluster_svc_domain_base.startswith("."):
        errors.append(
            FieldError(
                "spec.clusterSvcDomainBase",
                f"{config.cluster_svc_domain_base!r} must start with '.'",
            )
        )
    if config.master_encryption_key is not None:
        problem = key_error(config.master_encryption_key)
        if problem:
            errors.append(FieldError("spec.masterEncryptionKey", problem))
    errors += _labels(config.pod_labels, "spec.podLabels")
    errors += _labels(config.service_labels, "spec.serviceLabels")
    errors += _annotations(config.pod_annotations, "spec.podAnnotations")
    errors += _annotations(config.service_annotations, "spec.serviceAnnotations")
    return errors


def validate_config_update(
    old: Mapping[str, Any], new: Mapping[str, Any], key_users: Iterable[str]
) -> list[FieldError]:
    """`masterEncryptionKey` cannot change (nor go) while clusters hold values it
    encrypted: they could no longer be decrypted. `key_users` names those clusters."""
    users = sorted(key_users)
    before = _mapping(old.get("spec")).get("masterEncryptionKey")
    after = _mapping(new.get("spec")).get("masterEncryptionKey")
    if not users or before == after:
        return []
    return [
        FieldError(
            "spec.masterEncryptionKey",
            "cannot change while clusters hold values encrypted with it: " + ", ".join(users),
        )
    ]


def validate_config_delete(clusters: Iterable[str]) -> list[FieldError]:
    """The config cannot go while clusters exist; `clusters` names them."""
    clusters = sorted(clusters)
    if not clusters:
        return []
    return [FieldError("metadata.name", "clusters still exist: " + ", ".join(clusters))]
