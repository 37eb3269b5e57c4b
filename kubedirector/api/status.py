"""A typed view of KubeDirectorCluster `status` that converts back to the stored dict.

Keys this view does not model are kept in `extra` so that writing a status back
never drops what another version of the operator recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from kubedirector.api.fields import FieldReader, join

_ROLLUP_KEYS = (
    ("membership_changing", "membershipChanging"),
    ("members_down", "membersDown"),
    ("members_initializing", "membersInitializing"),
    ("members_waiting", "membersWaiting"),
    ("members_restarting", "membersRestarting"),
    ("config_errors", "configErrors"),
    ("members_not_scheduled", "membersNotScheduled"),
)


def _extra(raw: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in known}


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set an optional key, leaving it out when unset or empty."""
    if value is not None and value not in ("", (), []):
        out[key] = value


@dataclass(frozen=True)
class MemberStateRollup:
    membership_changing: bool = False
    members_down: bool = False
    members_initializing: bool = False
    members_waiting: bool = False
    members_restarting: bool = False
    config_errors: bool = False
    members_not_scheduled: bool = False

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> MemberStateRollup:
        return cls(**{attr: r.boolean(raw, key, path) for attr, key in _ROLLUP_KEYS})

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for attr, key in _ROLLUP_KEYS}


@dataclass(frozen=True)
class SetupProgress:
    """Where a member's app setup stands (kubedirector.setup.runner).

    Kept in status so that an operator restarted at any point resumes the run it
    started instead of starting `--configure` again.  Stored flat in
    `stateDetail` (the keys of `KEYS`).
    """

    run_id: str | None = None  # the run started in the guest (configure.status key)
    started_at: str | None = None
    attempt: int = 0  # automatic retries after a config error
    retry_at: str | None = None
    error_generation: int | None = None  # the spec generation a config error was for
    exec_failures: int = 0  # consecutive execs that failed (backoff, `SetupFailing`)
    last_exec_error: str | None = None

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> SetupProgress:
        return cls(
            run_id=r.opt_string(raw, "setupRunId", path),
            started_at=r.opt_string(raw, "setupStartedAt", path),
            attempt=r.integer(raw, "setupAttempt", path) or 0,
            retry_at=r.opt_string(raw, "setupRetryAt", path),
            error_generation=r.integer(raw, "configErrorGeneration", path),
            exec_failures=r.integer(raw, "setupExecFailures", path) or 0,
            last_exec_error=r.opt_string(raw, "setupExecError", path),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (
            ("setupRunId", self.run_id),
            ("setupStartedAt", self.started_at),
            ("setupAttempt", self.attempt),
            ("setupRetryAt", self.retry_at),
            ("setupExecFailures", self.exec_failures),
            ("setupExecError", self.last_exec_error),
        ):
            _put_set(out, key, value)
        if self.error_generation is not None:
            out["configErrorGeneration"] = self.error_generation
        return out

    KEYS = frozenset(
        {
            "setupRunId",
            "setupStartedAt",
            "setupAttempt",
            "setupRetryAt",
            "configErrorGeneration",
            "setupExecFailures",
            "setupExecError",
        }
    )


@dataclass(frozen=True)
class NotifyProgress:
    """Delivery of `--addnodes/--delnodes/--reconnect` to a member, and what it was told.

    Stored flat in `stateDetail` (the keys of `KEYS`).
    """

    failures: int = 0  # failed deliveries of the first pending command
    last_error: str | None = None
    announced: bool = False  # the member's joining was queued for the others
    departure_announced: bool = False  # its leaving (delete pending) was queued
    known_node_id: int | None = None  # highest node id in its configmeta when written

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> NotifyProgress:
        return cls(
            failures=r.integer(raw, "notifyFailures", path) or 0,
            last_error=r.opt_string(raw, "lastNotifyError", path),
            announced=r.boolean(raw, "announced", path),
            departure_announced=r.boolean(raw, "departureAnnounced", path),
            known_node_id=r.integer(raw, "knownNodeId", path),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (
            ("notifyFailures", self.failures),
            ("lastNotifyError", self.last_error),
            ("announced", self.announced),
            ("departureAnnounced", self.departure_announced),
        ):
            _put_set(out, key, value)
        if self.known_node_id is not None:
            out["knownNodeId"] = self.known_node_id
        return out

    KEYS = frozenset(
        {"notifyFailures", "lastNotifyError", "announced", "departureAnnounced", "knownNodeId"}
    )


def _put_set(out: dict[str, Any], key: str, value: Any) -> None:
    """Set a progress key, leaving it out at its zero value (unset, 0, false)."""
    if value not in (None, 0, False, ""):
        out[key] = value


@dataclass(frozen=True)
class MemberStateDetail:
    config_error_detail: str | None = None
    last_config_data_generation: int | None = None
    last_setup_generation: int | None = None
    configuring_container: str | None = None
    last_configured_container: str | None = None
    last_known_container_state: str | None = None
    pending_notify_cmds: tuple[tuple[str, ...], ...] = ()
    last_connection_version: int | None = None
    start_script_stdout_message: str | None = None
    start_script_stderr_message: str | None = None
    scheduling_error_message: str | None = None
    storage_init_progress: str | None = None
    unresponsive: str | None = None
    setup: SetupProgress = field(default_factory=SetupProgress)
    notify: NotifyProgress = field(default_factory=NotifyProgress)
    extra: dict[str, Any] = field(default_factory=dict)

    _STRINGS = {
        "config_error_detail": "configErrorDetail",
        "configuring_container": "configuringContainer",
        "last_configured_container": "lastConfiguredContainer",
        "last_known_container_state": "lastKnownContainerState",
        "start_script_stdout_message": "startScriptStdoutMessage",
        "start_script_stderr_message": "startScriptStderrMessage",
        "scheduling_error_message": "schedulingErrorMessage",
        "storage_init_progress": "storageInitProgress",
        "unresponsive": "unresponsive",
    }
    _INTEGERS = {
        "last_config_data_generation": "lastConfigDataGeneration",
        "last_setup_generation": "lastSetupGeneration",
        "last_connection_version": "lastConnectionVersion",
    }

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> MemberStateDetail:
        values: dict[str, Any] = {a: r.opt_string(raw, k, path) for a, k in cls._STRINGS.items()}
        values |= {a: r.integer(raw, k, path) for a, k in cls._INTEGERS.items()}
        cmds_path = join(path, "pendingNotifyCmds")
        values["pending_notify_cmds"] = tuple(
            r.strings(cmd, "arguments", join(cmds_path, i))
            for i, cmd in enumerate(r.objects(raw, "pendingNotifyCmds", path))
        )
        values["setup"] = SetupProgress.from_dict(r, raw, path)
        values["notify"] = NotifyProgress.from_dict(r, raw, path)
        known = {
            *cls._STRINGS.values(),
            *cls._INTEGERS.values(),
            "pendingNotifyCmds",
            *SetupProgress.KEYS,
            *NotifyProgress.KEYS,
        }
        return cls(**values, extra=_extra(raw, known))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for attr, key in (self._STRINGS | self._INTEGERS).items():
            _put(out, key, getattr(self, attr))
        _put(
            out,
            "pendingNotifyCmds",
            [{"arguments": list(args)} for args in self.pending_notify_cmds],
        )
        out |= self.setup.to_dict() | self.notify.to_dict()
        return out


@dataclass(frozen=True)
class MemberStatus:
    pod: str
    service: str
    node_id: int
    state: str
    pvc: str | None = None
    auth_token: str | None = None
    block_device_paths: tuple[str, ...] = ()
    state_detail: MemberStateDetail = field(default_factory=MemberStateDetail)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ordinal(self) -> int:
        """The StatefulSet ordinal, the number after the pod name's last `-`."""
        suffix = self.pod.rpartition("-")[2]
        return int(suffix) if suffix.isdigit() else -1

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> MemberStatus:
        node_id = r.integer(raw, "nodeID", path)
        return cls(
            pod=r.string(raw, "pod", path),
            service=r.string(raw, "service", path),
            node_id=0 if node_id is None else node_id,
            state=r.string(raw, "state", path),
            pvc=r.opt_string(raw, "pvc", path),
            auth_token=r.opt_string(raw, "authToken", path),
            block_device_paths=r.strings(raw, "blockDevicePaths", path),
            state_detail=MemberStateDetail.from_dict(
                r,
                r.mapping(raw.get("stateDetail"), join(path, "stateDetail")),
                join(path, "stateDetail"),
            ),
            extra=_extra(
                raw,
                {
                    "pod",
                    "service",
                    "nodeID",
                    "state",
                    "pvc",
                    "authToken",
                    "blockDevicePaths",
                    "stateDetail",
                },
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out |= {
            "pod": self.pod,
            "service": self.service,
            "nodeID": self.node_id,
            "state": self.state,
        }
        _put(out, "pvc", self.pvc)
        _put(out, "authToken", self.auth_token)
        _put(out, "blockDevicePaths", list(self.block_device_paths))
        out["stateDetail"] = self.state_detail.to_dict()
        return out


@dataclass(frozen=True)
class RoleStatus:
    id: str
    stateful_set: str
    members: tuple[MemberStatus, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> RoleStatus:
        members_path = join(path, "members")
        return cls(
            id=r.string(raw, "id", path),
            stateful_set=r.string(raw, "statefulSet", path),
            members=tuple(
                MemberStatus.from_dict(r, m, join(members_path, i))
                for i, m in enumerate(r.objects(raw, "members", path))
            ),
            extra=_extra(raw, {"id", "statefulSet", "members"}),
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.extra) | {
            "id": self.id,
            "statefulSet": self.stateful_set,
            "members": [m.to_dict() for m in self.members],
        }


@dataclass(frozen=True)
class Condition:
    """A standard Kubernetes condition (`Ready`, `Progressing`, `Degraded`)."""

    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> Condition:
        return cls(
            type=r.string(raw, "type", path),
            status=r.string(raw, "status", path),
            reason=r.string(raw, "reason", path),
            message=r.string(raw, "message", path),
            last_transition_time=r.string(raw, "lastTransitionTime", path),
            observed_generation=r.integer(raw, "observedGeneration", path),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition_time,
        }
        _put(out, "observedGeneration", self.observed_generation)
        return out


E = TypeVar("E", bound=StrEnum)


def _choice(
    r: FieldReader, raw: Mapping[str, Any], key: str, path: str, *, kind: type[E], fallback: E
) -> E:
    """One of an enum's values; anything else is reported (and `fallback` returned)."""
    text = r.string(raw, key, path)
    try:
        return kind(text)
    except ValueError:
        r.fail(join(path, key), f"{text!r} is not one of {', '.join(kind)}")
        return fallback


class UpgradePhase(StrEnum):
    """Where a live app upgrade (or its rollback) stands."""

    UPGRADING = "Upgrading"
    UPGRADED = "Upgraded"
    FAILED = "Failed"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"

    @property
    def moving(self) -> bool:
        return self in (UpgradePhase.UPGRADING, UpgradePhase.ROLLING_BACK)


class MemberUpgrade(StrEnum):
    """One member's place in a rollout."""

    PENDING = "pending"  # still on the app the rollout moves away from
    MOVING = "moving"  # its pod is being re-created on the new app, then set up
    DONE = "done"  # on the new app, set up, Ready
    FAILED = "failed"  # its upgrade event failed: the rollout stopped here
    UNCHANGED = "unchanged"  # a rollback's member that never moved


@dataclass(frozen=True)
class MemberUpgradeStatus:
    pod: str
    role: str
    state: MemberUpgrade
    message: str | None = None

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> MemberUpgradeStatus:
        return cls(
            pod=r.string(raw, "pod", path),
            role=r.string(raw, "role", path),
            state=_choice(
                r, raw, "state", path, kind=MemberUpgrade, fallback=MemberUpgrade.PENDING
            ),
            message=r.opt_string(raw, "message", path),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pod": self.pod, "role": self.role, "state": str(self.state)}
        _put(out, "message", self.message)
        return out


@dataclass(frozen=True)
class UpgradeStatus:
    """`status.upgrade`: the latest live app upgrade (or rollback), member by member in
    rollout order, written right after each step so a restarted operator resumes it."""

    from_app: str
    from_version: str
    to_app: str
    to_version: str
    phase: UpgradePhase
    members: tuple[MemberUpgradeStatus, ...] = ()
    failed_member: str | None = None
    failure: str | None = None

    @property
    def rollback(self) -> bool:
        return self.phase in (UpgradePhase.ROLLING_BACK, UpgradePhase.ROLLED_BACK)

    @classmethod
    def from_dict(cls, r: FieldReader, raw: Mapping[str, Any], path: str) -> UpgradeStatus:
        return cls(
            from_app=r.string(raw, "fromApp", path),
            from_version=r.string(raw, "fromVersion", path),
            to_app=r.string(raw, "toApp", path),
            to_version=r.string(raw, "toVersion", path),
            phase=_choice(r, raw, "phase", path, kind=UpgradePhase, fallback=UpgradePhase.FAILED),
            members=tuple(
                MemberUpgradeStatus.from_dict(r, m, join(join(path, "members"), i))
                for i, m in enumerate(r.objects(raw, "members", path))
            ),
            failed_member=r.opt_string(raw, "failedMember", path),
            failure=r.opt_string(raw, "failure", path),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fromApp": self.from_app,
            "fromVersion": self.from_version,
            "toApp": self.to_app,
            "toVersion": self.to_version,
            "phase": str(self.phase),
            "members": [m.to_dict() for m in self.members],
        }
        _put(out, "failedMember", self.failed_member)
        _put(out, "failure", self.failure)
        return out


_STATUS_KEYS = {
    "upgrade",
    "state",
    "memberStateRollup",
    "clusterService",
    "lastNodeID",
    "specGenerationToProcess",
    "lastConnectionHash",
    "roles",
    "conditions",
    "observedGeneration",
    "memberSummary",
}


@dataclass(frozen=True)
class ClusterStatus:
    state: str = ""
    member_state_rollup: MemberStateRollup = field(default_factory=MemberStateRollup)
    cluster_service: str = ""
    last_node_id: int = 0
    spec_generation_to_process: int | None = None
    last_connection_hash: str | None = None
    roles: tuple[RoleStatus, ...] = ()
    conditions: tuple[Condition, ...] = ()
    observed_generation: int | None = None
    member_summary: str | None = None
    upgrade: UpgradeStatus | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def role(self, role_id: str) -> RoleStatus | None:
        return next((r for r in self.roles if r.id == role_id), None)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> ClusterStatus:
        """Parse a stored status (None: a cluster not yet reconciled).

        Raises SpecError naming every malformed field.
        """
        r = FieldReader()
        raw = r.mapping(raw, "status")
        p = "status"
        last_node_id = r.integer(raw, "lastNodeID", p)
        status = cls(
            state=r.string(raw, "state", p),
            member_state_rollup=MemberStateRollup.from_dict(
                r,
                r.mapping(raw.get("memberStateRollup"), join(p, "memberStateRollup")),
                join(p, "memberStateRollup"),
            ),
            cluster_service=r.string(raw, "clusterService", p),
            last_node_id=0 if last_node_id is None else last_node_id,
            spec_generation_to_process=r.integer(raw, "specGenerationToProcess", p),
            last_connection_hash=r.opt_string(raw, "lastConnectionHash", p),
            roles=tuple(
                RoleStatus.from_dict(r, role, join("status.roles", i))
                for i, role in enumerate(r.objects(raw, "roles", p))
            ),
            conditions=tuple(
                Condition.from_dict(r, c, join("status.conditions", i))
                for i, c in enumerate(r.objects(raw, "conditions", p))
            ),
            observed_generation=r.integer(raw, "observedGeneration", p),
            member_summary=r.opt_string(raw, "memberSummary", p),
            upgrade=(
                UpgradeStatus.from_dict(
                    r, r.mapping(raw["upgrade"], "status.upgrade"), "status.upgrade"
                )
                if raw.get("upgrade") is not None
                else None
            ),
            extra=_extra(raw, _STATUS_KEYS),
        )
        r.raise_if_failed()
        return status

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out |= {
            "state": self.state,
            "memberStateRollup": self.member_state_rollup.to_dict(),
            "clusterService": self.cluster_service,
            "lastNodeID": self.last_node_id,
            "roles": [role.to_dict() for role in self.roles],
        }
        _put(out, "specGenerationToProcess", self.spec_generation_to_process)
        _put(out, "lastConnectionHash", self.last_connection_hash)
        _put(out, "conditions", [c.to_dict() for c in self.conditions])
        _put(out, "observedGeneration", self.observed_generation)
        _put(out, "memberSummary", self.member_summary)
        if self.upgrade is not None:
            out["upgrade"] = self.upgrade.to_dict()
        return out
