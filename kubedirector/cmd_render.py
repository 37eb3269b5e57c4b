"""`kubedirector render APP CLUSTER`: the objects the operator would create, as YAML.

The same validation as admission runs first (a cluster the webhook would refuse
renders nothing), then the reconciler's pure builders
(`kubedirector.desired.render`). Names get their random suffix from a seed (the
cluster's name), so a render is repeatable; the operator draws its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

import yaml

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import KIND_APP, KIND_CLUSTER, KIND_CONFIG
from kubedirector.api.errors import SpecError
from kubedirector.cmd_validate import DEFAULT_OPERATOR_NAMESPACE, validate_documents
from kubedirector.desired.render import render_cluster, seeded_chars
from kubedirector.documents import Document, DocumentError, load_documents, with_namespace


class _PlainDumper(yaml.SafeDumper):
    """Writes shared values out in full: `&id001` anchors would only puzzle a reader."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class RenderError(ValueError):
    """Input that cannot be rendered; the message says which file and why."""


def _one(documents: Sequence[Document], kind: str, path: str) -> Document:
    found = [d for d in documents if d.is_kubedirector and d.kind == kind]
    if len(found) != 1:
        raise RenderError(f"{path}: expected one {kind}, found {len(found)}")
    return found[0]


def render_documents(
    app_path: str, cluster_path: str, config_path: str | None, namespace: str
) -> list[dict[str, Any]]:
    """The objects, or RenderError naming every problem."""
    try:
        app_doc = _one(load_documents([app_path]), KIND_APP, app_path)
        cluster_doc = _one(load_documents([cluster_path]), KIND_CLUSTER, cluster_path)
        docs = [app_doc, cluster_doc]
        if config_path:
            docs.append(_one(load_documents([config_path]), KIND_CONFIG, config_path))
    except DocumentError as e:
        raise RenderError(str(e)) from e
    verdicts = validate_documents(
        docs, namespace=namespace, operator_namespace=DEFAULT_OPERATOR_NAMESPACE
    )
    problems = [f"{v.document.describe()}: {e}" for v in verdicts for e in v.errors]
    if problems:
        raise RenderError("\n".join(problems))
    try:
        config = (
            Config.from_dict(with_namespace(docs[2].body, DEFAULT_OPERATOR_NAMESPACE))
            if config_path
            else Config()
        )
        app = App.from_dict(with_namespace(app_doc.body, namespace))
        cluster = Cluster.from_dict(with_namespace(cluster_doc.body, namespace), config, app)
    except SpecError as e:
        raise RenderError(str(e)) from e
    return render_cluster(app, cluster, config, seeded_chars(cluster.name))


def run_render(
    app_path: str,
    cluster_path: str,
    *,
    config_path: str | None,
    namespace: str,
    out: TextIO,
    err: TextIO,
) -> int:
    try:
        objects = render_documents(app_path, cluster_path, config_path, namespace)
    except RenderError as e:
        print(f"error: {e}", file=err)
        return 1
    yaml.dump_all(objects, out, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False)
    return 0
