"""A `View` over fixed objects, so admission's unit tests need no informers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kubedirector.webhook.view import Obj


@dataclass
class StaticView:
    """A fixed set of objects: admission without informers, for the unit tests."""

    operator_namespace: str
    apps: Sequence[Obj] = ()
    cluster_list: Sequence[Obj] = ()
    config_doc: Obj | None = None
    classes: Sequence[Obj] = field(default_factory=list)
    is_synced: bool = True

    def synced(self) -> bool:
        return self.is_synced

    def app(self, namespace: str, name: str) -> Obj | None:
        return next(
            (
                a
                for a in self.apps
                if a["metadata"]["name"] == name and a["metadata"].get("namespace") == namespace
            ),
            None,
        )

    def config(self) -> Obj | None:
        return self.config_doc

    def clusters(self) -> list[Obj]:
        return list(self.cluster_list)

    def storage_classes(self) -> list[Obj]:
        return list(self.classes)
