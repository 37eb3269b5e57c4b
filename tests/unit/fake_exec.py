"""The fakes' side of `GuestExecutor.run`: its signature once, so that each fake guest
the setup tests use says only how it answers one exec."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from kubedirector.api.constants import APP_CONTAINER_NAME
from kubedirector.setup.executor import ExecResult


@dataclass(frozen=True)
class Call:
    """One exec as `GuestExecutor.run` is asked for it."""

    namespace: str
    pod: str
    script: str
    timeout: float
    container: str


class FakeExec(abc.ABC):
    """Stands in for `GuestExecutor`: `run` passes each exec to `answer`."""

    def run(
        self,
        namespace: str,
        pod: str,
        script: str,
        *,
        timeout: float = 30.0,
        container: str = APP_CONTAINER_NAME,
    ) -> ExecResult:
        return self.answer(Call(namespace, pod, script, timeout, container))

    @abc.abstractmethod
    def answer(self, call: Call) -> ExecResult:
        """The exec's result (or raise what the exec would)."""
