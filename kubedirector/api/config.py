"""KubeDirectorConfig: the global settings, with their defaults resolved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubedirector.api.constants import (
    DEFAULT_CLUSTER_SVC_DOMAIN_BASE,
    NamingScheme,
    ServiceType,
)
from kubedirector.api.fields import FieldReader


@dataclass(frozen=True)
class Config:
    """The settings that apply when no config exists are this class's defaults."""

    name: str = ""
    namespace: str = ""
    default_storage_class_name: str | None = None
    default_service_type: str = ServiceType.LOAD_BALANCER.value
    native_systemd_support: bool = False
    required_secret_prefix: str = ""
    cluster_svc_domain_base: str = DEFAULT_CLUSTER_SVC_DOMAIN_BASE
    default_naming_scheme: str = NamingScheme.CR_NAME_ROLE.value
    master_encryption_key: str | None = None
    pod_labels: dict[str, str] = field(default_factory=dict)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    service_labels: dict[str, str] = field(default_factory=dict)
    service_annotations: dict[str, str] = field(default_factory=dict)
    backup_cluster_status: bool = False
    allow_restore_without_connections: bool = False
    # The original refused `sharedMemory` on Kubernetes too old to size memory-backed
    # volumes unless this was set; every supported release sizes them, so it is only read.
    force_shared_memory_size_support: bool = False

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any] | None) -> Config:
        """Parse a stored KubeDirectorConfig; None (no config exists) gives the defaults.

        Raises SpecError naming every malformed field.
        """
        if doc is None:
            return cls()
        r = FieldReader()
        meta = r.mapping(doc.get("metadata"), "metadata")
        spec = r.mapping(doc.get("spec"), "spec")
        p = "spec"
        config = cls(
            name=r.string(meta, "name", "metadata"),
            namespace=r.string(meta, "namespace", "metadata"),
            default_storage_class_name=r.opt_string(spec, "defaultStorageClassName", p) or None,
            default_service_type=r.string(spec, "defaultServiceType", p)
            or ServiceType.LOAD_BALANCER.value,
            native_systemd_support=r.boolean(spec, "nativeSystemdSupport", p),
            required_secret_prefix=r.string(spec, "requiredSecretPrefix", p),
            cluster_svc_domain_base=r.string(spec, "clusterSvcDomainBase", p)
            or DEFAULT_CLUSTER_SVC_DOMAIN_BASE,
            default_naming_scheme=r.string(spec, "defaultNamingScheme", p)
            or NamingScheme.CR_NAME_ROLE.value,
            master_encryption_key=r.opt_string(spec, "masterEncryptionKey", p) or None,
            pod_labels=r.string_map(spec, "podLabels", p),
            pod_annotations=r.string_map(spec, "podAnnotations", p),
            service_labels=r.string_map(spec, "serviceLabels", p),
            service_annotations=r.string_map(spec, "serviceAnnotations", p),
            backup_cluster_status=r.boolean(spec, "backupClusterStatus", p),
            allow_restore_without_connections=r.boolean(spec, "allowRestoreWithoutConnections", p),
            force_shared_memory_size_support=r.boolean(spec, "forceSharedMemorySizeSupport", p),
        )
        r.raise_if_failed()
        return config
