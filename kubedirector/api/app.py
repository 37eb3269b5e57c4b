"""KubeDirectorApp: an app type, with role defaults resolved when reading.

The stored object stays as its author wrote it; `AppRole` carries each value
already resolved against the app's `default*` fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubedirector.api.constants import DEFAULT_MAX_LOG_SIZE_DUMP, Event
from kubedirector.api.fields import FieldReader, join

_CARDINALITY = re.compile(r"(?P<count>[0-9]+)(?P<plus>\+?)")

DEFAULT_EVENT_LIST: tuple[str, ...] = tuple(e.value for e in Event)


@dataclass(frozen=True)
class Cardinality:
    """`"N"` (exactly N members) or `"N+"` (at least N)."""

    count: int
    at_least: bool

    @classmethod
    def parse(cls, text: str) -> Cardinality | None:
        match = _CARDINALITY.fullmatch(text)
        if match is None:
            return None
        return cls(int(match["count"]), bool(match["plus"]))

    def allows(self, members: int) -> bool:
        return members >= self.count if self.at_least else members == self.count

    def __str__(self) -> str:
        return f"{self.count}{'+' if self.at_least else ''}"


@dataclass(frozen=True)
class Endpoint:
    port: int
    url_scheme: str | None = None
    path: str | None = None
    is_dashboard: bool = False
    has_auth_token: bool = False


@dataclass(frozen=True)
class Service:
    id: str
    label_name: str = ""
    label_description: str = ""
    endpoint: Endpoint | None = None
    exported_service: str | None = None

    @property
    def port_name(self) -> str:
        """The member Service port name: `<urlScheme>-<id>` or `generic-<id>`."""
        scheme = self.endpoint.url_scheme if self.endpoint else None
        return f"{(scheme or 'generic').lower()}-{self.id}"


@dataclass(frozen=True)
class ConfigPackage:
    package_url: str
    use_new_setup_layout: bool = False


@dataclass(frozen=True)
class MinStorage:
    size: str
    ephemeral_mode_supported: bool = False


@dataclass(frozen=True)
class LivenessCheck:
    """A role's `livenessCheck`: a command the kubelet runs in the `app` container.

    It is rendered as the container's readinessProbe, so a failing check only makes
    the pod not Ready; what happens then is the cluster role's
    `unresponsivePolicy`, not the kubelet's. Unset timings are Kubernetes' own
    probe defaults.
    """

    command: tuple[str, ...]
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class AppRole:
    """A role with every `default*` value of the app already applied."""

    id: str
    cardinality: Cardinality | None
    image: str | None
    config_package: ConfigPackage | None
    persist_dirs: tuple[str, ...]
    event_list: tuple[str, ...]
    max_log_size_dump: int
    min_resources: dict[str, str] = field(default_factory=dict)
    min_storage: MinStorage | None = None
    stdin: bool = False
    tty: bool = False
    services: tuple[Service, ...] = ()
    liveness_check: LivenessCheck | None = None

    @property
    def endpoint_services(self) -> tuple[Service, ...]:
        """The role's services that have a port."""
        return tuple(s for s in self.services if s.endpoint is not None)

    @property
    def needs_storage(self) -> bool:
        """Whether clusters must give this role persistent storage."""
        return self.min_storage is not None and not self.min_storage.ephemeral_mode_supported


@dataclass(frozen=True)
class UpgradeSource:
    """One entry of `upgradableFrom`: the apps (by `distroID`, and `versions` when
    given) whose running clusters may move to this app in place."""

    distro_id: str
    versions: tuple[str, ...] = ()

    def admits(self, app: App) -> bool:
        return app.distro_id == self.distro_id and (
            not self.versions or app.version in self.versions
        )


@dataclass(frozen=True)
class App:
    name: str
    namespace: str
    label_name: str
    label_description: str
    distro_id: str
    version: str
    config_schema_version: int | None
    default_image: str | None
    default_config_package: ConfigPackage | None
    services: tuple[Service, ...]
    roles: tuple[AppRole, ...]
    selected_roles: tuple[str, ...]
    role_services: tuple[tuple[str, tuple[str, ...]], ...]
    config_meta: dict[str, str]
    capabilities: tuple[str, ...]
    systemd_required: bool
    logo_url: str | None
    upgradable_from: tuple[UpgradeSource, ...] = ()

    def upgrades_from(self, current: App) -> bool:
        """Whether a cluster running `current` may move to this app (live upgrade)."""
        return any(source.admits(current) for source in self.upgradable_from)

    def role(self, role_id: str) -> AppRole | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> App:
        """Parse a stored KubeDirectorApp. Raises SpecError naming every malformed field."""
        r = FieldReader()
        doc = r.mapping(doc, "")
        meta = r.mapping(doc.get("metadata"), "metadata")
        spec = r.mapping(doc.get("spec"), "spec")
        label = r.mapping(spec.get("label"), "spec.label")
        config = r.mapping(spec.get("config"), "spec.config")
        services = tuple(
            _service(r, s, join("spec.services", i))
            for i, s in enumerate(r.objects(spec, "services", "spec"))
        )
        role_services = _role_services(r, config)
        default_package = _config_package(r, spec, "defaultConfigPackage", "spec")
        defaults = _RoleDefaults(
            image=r.opt_string(spec, "defaultImageRepoTag", "spec") or None,
            config_package=default_package,
            persist_dirs=r.strings(spec, "defaultPersistDirs", "spec"),
            event_list=(
                r.strings(spec, "defaultEventList", "spec")
                if spec.get("defaultEventList") is not None
                else DEFAULT_EVENT_LIST
            ),
            max_log_size_dump=_or(
                r.integer(spec, "defaultMaxLogSizeDump", "spec"), DEFAULT_MAX_LOG_SIZE_DUMP
            ),
        )
        by_id = {s.id: s for s in services}
        roles = tuple(
            _role(
                r,
                raw,
                join("spec.roles", i),
                defaults=defaults,
                role_services=role_services,
                services=by_id,
            )
            for i, raw in enumerate(r.objects(spec, "roles", "spec"))
        )
        if spec.get("roles") is None:
            r.fail("spec.roles", "is required")
        app = cls(
            name=r.string(meta, "name", "metadata"),
            namespace=r.string(meta, "namespace", "metadata"),
            label_name=r.string(label, "name", "spec.label", required=True),
            label_description=r.string(label, "description", "spec.label"),
            distro_id=r.string(spec, "distroID", "spec", required=True),
            version=r.string(spec, "version", "spec", required=True),
            config_schema_version=r.integer(spec, "configSchemaVersion", "spec"),
            default_image=defaults.image,
            default_config_package=default_package,
            services=services,
            roles=roles,
            selected_roles=r.strings(config, "selectedRoles", "spec.config"),
            role_services=role_services,
            config_meta=r.string_map(config, "configMeta", "spec.config"),
            capabilities=r.strings(spec, "capabilities", "spec"),
            systemd_required=r.boolean(spec, "systemdRequired", "spec"),
            logo_url=r.opt_string(spec, "logoURL", "spec"),
            upgradable_from=tuple(
                UpgradeSource(
                    distro_id=r.string(u, "distroID", path, required=True),
                    versions=r.strings(u, "versions", path),
                )
                for i, u in enumerate(r.objects(spec, "upgradableFrom", "spec"))
                for path in [join("spec.upgradableFrom", i)]
            ),
        )
        if app.config_schema_version is None:
            r.fail("spec.configSchemaVersion", "is required")
        r.raise_if_failed()
        return app


@dataclass(frozen=True)
class _RoleDefaults:
    image: str | None
    config_package: ConfigPackage | None
    persist_dirs: tuple[str, ...]
    event_list: tuple[str, ...]
    max_log_size_dump: int


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _service(r: FieldReader, raw: Mapping[str, Any], path: str) -> Service:
    label = r.mapping(raw.get("label"), join(path, "label"))
    endpoint = None
    if raw.get("endpoint") is not None:
        ep_path = join(path, "endpoint")
        ep = r.mapping(raw.get("endpoint"), ep_path)
        port = r.integer(ep, "port", ep_path)
        if port is None:
            r.fail(join(ep_path, "port"), "is required")
        endpoint = Endpoint(
            port=port or 0,
            url_scheme=r.opt_string(ep, "urlScheme", ep_path) or None,
            path=r.opt_string(ep, "path", ep_path),
            is_dashboard=r.boolean(ep, "isDashboard", ep_path),
            has_auth_token=r.boolean(ep, "hasAuthToken", ep_path),
        )
    return Service(
        id=r.string(raw, "id", path, required=True),
        label_name=r.string(label, "name", join(path, "label")),
        label_description=r.string(label, "description", join(path, "label")),
        endpoint=endpoint,
        exported_service=r.opt_string(raw, "exported_service", path),
    )


def _role_services(
    r: FieldReader, config: Mapping[str, Any]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for i, raw in enumerate(r.objects(config, "roleServices", "spec.config")):
        path = join("spec.config.roleServices", i)
        out.append(
            (r.string(raw, "roleID", path, required=True), r.strings(raw, "serviceIDs", path))
        )
    return tuple(out)


def _config_package(
    r: FieldReader, obj: Mapping[str, Any], key: str, path: str
) -> ConfigPackage | None:
    raw = obj.get(key)
    if raw is None:
        return None
    here = join(path, key)
    pkg = r.mapping(raw, here)
    return ConfigPackage(
        package_url=r.string(pkg, "packageURL", here, required=True),
        use_new_setup_layout=r.boolean(pkg, "useNewSetupLayout", here),
    )


def _role(
    r: FieldReader,
    raw: Mapping[str, Any],
    path: str,
    *,
    defaults: _RoleDefaults,
    role_services: tuple[tuple[str, tuple[str, ...]], ...],
    services: Mapping[str, Service],
) -> AppRole:
    role_id = r.string(raw, "id", path, required=True)
    cardinality_text = r.string(raw, "cardinality", path, required=True)
    cardinality = Cardinality.parse(cardinality_text)
    if cardinality is None and cardinality_text:
        r.fail(
            join(path, "cardinality"), f'{cardinality_text!r} is not a cardinality ("N" or "N+")'
        )
    container = r.mapping(raw.get("containerSpec"), join(path, "containerSpec"))
    min_storage = None
    if raw.get("minStorage") is not None:
        ms_path = join(path, "minStorage")
        ms = r.mapping(raw.get("minStorage"), ms_path)
        min_storage = MinStorage(
            size=r.string(ms, "size", ms_path, required=True),
            ephemeral_mode_supported=r.boolean(ms, "ephemeralModeSupported", ms_path),
        )
    service_ids = [sid for rid, sids in role_services if rid == role_id for sid in sids]
    role_svcs = tuple(services[sid] for sid in dict.fromkeys(service_ids) if sid in services)
    return AppRole(
        id=role_id,
        cardinality=cardinality,
        image=r.opt_string(raw, "imageRepoTag", path) or defaults.image,
        # An explicit null means "no setup package", unlike an absent key.
        config_package=(
            _config_package(r, raw, "configPackage", path)
            if "configPackage" in raw
            else defaults.config_package
        ),
        persist_dirs=(
            r.strings(raw, "persistDirs", path)
            if raw.get("persistDirs") is not None
            else defaults.persist_dirs
        ),
        event_list=(
            r.strings(raw, "eventList", path)
            if raw.get("eventList") is not None
            else defaults.event_list
        ),
        max_log_size_dump=_or(r.integer(raw, "maxLogSizeDump", path), defaults.max_log_size_dump),
        min_resources=r.quantity_map(raw, "minResources", path),
        min_storage=min_storage,
        stdin=r.boolean(container, "stdin", join(path, "containerSpec")),
        tty=r.boolean(container, "tty", join(path, "containerSpec")),
        services=role_svcs,
        liveness_check=_liveness_check(r, raw, path),
    )


# A probe's numbers are int32 in the pod spec.
_INT32_MAX = 2**31 - 1


def _probe_number(
    r: FieldReader, obj: Mapping[str, Any], key: str, path: str, *, minimum: int, default: int
) -> int:
    """An integer from `minimum` to the int32 maximum; `default` when unset or wrong."""
    value = r.integer(obj, key, path)
    if value is None:
        return default
    if not minimum <= value <= _INT32_MAX:
        r.fail(join(path, key), f"must be from {minimum} to {_INT32_MAX}, not {value}")
        return default
    return value


def _command(r: FieldReader, check: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """`exec.command`: the program (run without a shell) and its arguments."""
    here = join(path, "exec")
    raw = check.get("exec")
    if raw is None:
        r.fail(here, "is required")
        return ()
    exec_ = r.mapping(raw, here)
    command = r.strings(exec_, "command", here)
    if isinstance(raw, Mapping) and exec_.get("command") in (None, []):
        r.fail(join(here, "command"), "must name the program to run")
    elif command and not command[0]:
        r.fail(join(join(here, "command"), 0), "must not be empty: it is the program to run")
    return command


def _liveness_check(r: FieldReader, raw: Mapping[str, Any], path: str) -> LivenessCheck | None:
    value = raw.get("livenessCheck")
    if value is None:
        return None
    here = join(path, "livenessCheck")
    check = r.mapping(value, here)
    if not isinstance(value, Mapping):
        return None
    return LivenessCheck(
        command=_command(r, check, here),
        initial_delay_seconds=_probe_number(
            r, check, "initialDelaySeconds", here, minimum=0, default=0
        ),
        period_seconds=_probe_number(
            r, check, "periodSeconds", here, minimum=1, default=LivenessCheck.period_seconds
        ),
        timeout_seconds=_probe_number(
            r, check, "timeoutSeconds", here, minimum=1, default=LivenessCheck.timeout_seconds
        ),
        failure_threshold=_probe_number(
            r, check, "failureThreshold", here, minimum=1, default=LivenessCheck.failure_threshold
        ),
    )
