"""Setup and notification progress: typed fields stored flat in `stateDetail`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.errors import SpecError
from kubedirector.api.status import ClusterStatus, MemberStateDetail, NotifyProgress, SetupProgress

STAMP = st.sampled_from([None, "2026-11-30T06:00:00Z"])
TEXT = st.one_of(st.none(), st.text(min_size=1, max_size=20))
COUNT = st.integers(0, 10_000)


def stored(detail: dict) -> dict:
    return {
        "roles": [
            {
                "id": "w",
                "statefulSet": "s",
                "members": [
                    {
                        "pod": "s-0",
                        "service": "s-0",
                        "nodeID": 1,
                        "state": "creating",
                        "stateDetail": detail,
                    }
                ],
            }
        ]
    }


def detail_of(status: ClusterStatus) -> MemberStateDetail:
    return status.roles[0].members[0].state_detail


@given(
    setup=st.builds(
        SetupProgress,
        run_id=TEXT,
        started_at=STAMP,
        attempt=COUNT,
        retry_at=STAMP,
        error_generation=st.one_of(st.none(), COUNT),
        exec_failures=COUNT,
        last_exec_error=TEXT,
    ),
    notify=st.builds(
        NotifyProgress,
        failures=COUNT,
        last_error=TEXT,
        announced=st.booleans(),
        departure_announced=st.booleans(),
        known_node_id=st.one_of(st.none(), st.integers(1, 10_000)),
    ),
)
def test_progress_survives_a_round_trip_through_the_stored_status(
    setup: SetupProgress, notify: NotifyProgress
) -> None:
    detail = MemberStateDetail(
        configuring_container="cid", setup=setup, notify=notify, extra={"futureKey": 1}
    )
    raw = detail.to_dict()
    assert raw["futureKey"] == 1
    parsed = detail_of(ClusterStatus.from_dict(stored(raw)))
    assert parsed.setup == setup
    assert parsed.notify == notify
    assert parsed.extra == {"futureKey": 1}  # no progress key is left untyped


def test_keys_as_stored_by_earlier_versions_parse() -> None:
    detail = detail_of(
        ClusterStatus.from_dict(
            stored(
                {
                    "setupRunId": "cid#1",
                    "setupStartedAt": "2026-11-30T06:00:00Z",
                    "setupAttempt": 1,
                    "notifyFailures": 2,
                    "lastNotifyError": "exit 3",
                    "announced": True,
                    "knownNodeId": 4,
                }
            )
        )
    )
    assert detail.setup == SetupProgress(
        run_id="cid#1", started_at="2026-11-30T06:00:00Z", attempt=1
    )
    assert detail.notify == NotifyProgress(
        failures=2, last_error="exit 3", announced=True, known_node_id=4
    )
    assert detail.extra == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("setupAttempt", "1", "must be an integer"),
        ("setupExecFailures", True, "must be an integer"),
        ("announced", "yes", "must be true or false"),
        ("knownNodeId", 1.5, "must be an integer"),
        ("setupRunId", 7, "must be a string"),
    ],
)
def test_a_malformed_progress_key_is_named(key: str, value: object, message: str) -> None:
    with pytest.raises(SpecError) as err:
        ClusterStatus.from_dict(stored({key: value}))
    assert f"status.roles[0].members[0].stateDetail.{key}" in str(err.value)
    assert message in str(err.value)
