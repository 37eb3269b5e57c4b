"""The resources the reconcilers read (through informers) and write."""

from __future__ import annotations

from kubedirector.api.constants import (
    GROUP,
    KIND_APP,
    KIND_CLUSTER,
    KIND_CONFIG,
    KIND_STATUS_BACKUP,
    PLURAL_APP,
    PLURAL_CLUSTER,
    PLURAL_CONFIG,
    PLURAL_STATUS_BACKUP,
    VERSION,
)
from kubedirector.cache.informer import Resource

CLUSTERS = Resource(GROUP, VERSION, PLURAL_CLUSTER, KIND_CLUSTER)
APPS = Resource(GROUP, VERSION, PLURAL_APP, KIND_APP)
CONFIGS = Resource(GROUP, VERSION, PLURAL_CONFIG, KIND_CONFIG)
STATUS_BACKUPS = Resource(GROUP, VERSION, PLURAL_STATUS_BACKUP, KIND_STATUS_BACKUP)
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
SERVICES = Resource("", "v1", "services", "Service")
PODS = Resource("", "v1", "pods", "Pod")
PVCS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
EVENTS = Resource("", "v1", "events", "Event")
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
SECRETS = Resource("", "v1", "secrets", "Secret")
PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")

# The derived kinds are cached only where they carry the cluster label.
OWNED_SELECTOR = "kubedirector.hpe.com/kdcluster"
OWNED_KINDS = (STATEFULSETS, SERVICES, PODS, PVCS, PDBS)

# Connected ConfigMaps and Secrets carry these labels (as in the original):
# only those are cached, and only they reach a member's configmeta.
CONNECTED_CONFIGMAP_SELECTOR = "kubedirector.hpe.com/cmType"
CONNECTED_SECRET_SELECTOR = "kubedirector.hpe.com/secretType"
