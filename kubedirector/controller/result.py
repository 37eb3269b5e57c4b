"""What a reconcile returns, and the error that says "don't retry"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Result:
    """Success, a requeue after a delay, or a rate-limited requeue without an error."""

    requeue_after: float | None = None
    requeue: bool = False

    @classmethod
    def success(cls) -> Result:
        return cls()

    @classmethod
    def after(cls, seconds: float) -> Result:
        """Look again in `seconds` (e.g. waiting for pods): forget failures, then add_after."""
        if seconds < 0:
            raise ValueError("requeue delay must not be negative")
        return cls(requeue_after=seconds)

    @classmethod
    def rate_limited(cls) -> Result:
        """Look again soon, with the key's rate limit, without counting an error."""
        return cls(requeue=True)


class TerminalError(Exception):
    """A problem retrying cannot fix (e.g. a bad spec): the key is not requeued.

    The reconciler records it (status and an Event) before raising; the next
    change to the object brings the key back.
    """


class Reconciler(Protocol):
    """Level-triggered: makes the world match the object at `key` ("namespace/name")."""

    def reconcile(self, key: str) -> Result: ...
