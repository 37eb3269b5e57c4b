"""Names fixed by the KubeDirector v1beta1 API, shared by every component."""

from __future__ import annotations

from enum import StrEnum

GROUP = "kubedirector.hpe.com"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"

KIND_APP = "KubeDirectorApp"
KIND_CLUSTER = "KubeDirectorCluster"
KIND_CONFIG = "KubeDirectorConfig"
KIND_STATUS_BACKUP = "KubeDirectorStatusBackup"

PLURAL_APP = "kubedirectorapps"
PLURAL_CLUSTER = "kubedirectorclusters"
PLURAL_CONFIG = "kubedirectorconfigs"
PLURAL_STATUS_BACKUP = "kubedirectorstatusbackups"

LABEL_CLUSTER = f"{GROUP}/kdcluster"
LABEL_APP = f"{GROUP}/kdapp"
LABEL_APP_CATALOG = f"{GROUP}/appCatalog"
LABEL_ROLE = f"{GROUP}/role"
LABEL_HEADLESS = f"{GROUP}/headless"
LABEL_POD_NAME = "statefulset.kubernetes.io/pod-name"
ANNOTATION_PRETTY_NAME = f"{GROUP}/kdapp-prettyName"

FINALIZER = f"{GROUP}/cleanup"
# Set by the original operator on every live cluster; on a create it marks a restore.
ANNOTATION_STATUS_BACKUP_EXISTS = f"{GROUP}/status-backup-exists"

GLOBAL_CONFIG_NAME = "kd-global-config"

APP_CONTAINER_NAME = "app"
MAX_CLUSTER_MEMBERS = 1000
DEFAULT_MAX_LOG_SIZE_DUMP = 256
DEFAULT_CLUSTER_SVC_DOMAIN_BASE = ".svc.cluster.local"


class MemberState(StrEnum):
    """A member's place in its lifecycle (api.md section 4); the strings are API."""

    CREATE_PENDING = "create pending"
    CREATING = "creating"
    CONFIGURED = "configured"
    CONFIG_ERROR = "config error"
    DELETE_PENDING = "delete pending"
    DELETING = "deleting"


class ClusterState(StrEnum):
    """The cluster's overall state in status."""

    CREATING = "creating"
    UPDATING = "updating"
    CONFIGURED = "configured"
    PAUSED = "paused"


class ContainerState(StrEnum):
    """`stateDetail.lastKnownContainerState` values."""

    RUNNING = "running"
    WAITING = "waiting"
    INITIALIZING = "initializing"
    UNRESPONSIVE = "unresponsive"
    TERMINATED = "terminated"
    ABSENT = "absent"
    UNKNOWN = "unknown"


class ServiceType(StrEnum):
    """Allowed `serviceType` values for member services."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class NamingScheme(StrEnum):
    """How derived objects are named (api.md section 3)."""

    UID = "UID"
    CR_NAME_ROLE = "CrNameRole"


class AppCatalog(StrEnum):
    """Where a cluster's app is looked up."""

    LOCAL = "local"
    SYSTEM = "system"


class Event(StrEnum):
    """Setup events an app role may subscribe to (`eventList`)."""

    CONFIGURE = "configure"
    ADDNODES = "addnodes"
    DELNODES = "delnodes"
    RECONNECT = "reconnect"


# The startscript arguments of a member's setup run (a live upgrade runs its own
# event instead, see kubedirector.lifecycle.upgrade).
CONFIGURE_ARGS: tuple[str, ...] = ("--configure",)
