"""`kubedirector validate FILE...`: admission's checks, offline, before anything is applied.

Apps, clusters and the KubeDirectorConfig are judged by the functions the
admission webhook calls (`kubedirector.api.validation`). A cluster is judged
against the app of its `spec.app` among the same files, and with the
KubeDirectorConfig among them (else the defaults), so pass the catalog along:
`kubedirector validate manifests/catalog my-cluster.yaml`. What only the live
cluster knows is not checked: StorageClasses, apps in use, changes to stored objects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from kubedirector.api.app import App
from kubedirector.api.config import Config
from kubedirector.api.constants import KIND_APP, KIND_CLUSTER, KIND_CONFIG
from kubedirector.api.errors import FieldError, SpecError
from kubedirector.api.validation import validate_app, validate_cluster, validate_config
from kubedirector.documents import Document, DocumentError, load_documents, with_namespace

DEFAULT_OPERATOR_NAMESPACE = "kubedirector"


@dataclass(frozen=True)
class Verdict:
    """What validation found in one document."""

    document: Document
    errors: list[FieldError] = field(default_factory=list)
    skipped: str = ""


def _parsed_app(body: Mapping[str, Any]) -> App | None:
    try:
        return App.from_dict(body)
    except SpecError:
        return None


def validate_documents(
    documents: Sequence[Document], *, namespace: str, operator_namespace: str
) -> list[Verdict]:
    """A verdict per document; `namespace` stands in where a document names none."""
    apps = {
        d.name: d.body
        for d in documents
        if d.is_kubedirector and d.kind == KIND_APP and isinstance(d.body, Mapping)
    }
    configs = [d for d in documents if d.is_kubedirector and d.kind == KIND_CONFIG]
    config = Config()
    if configs and isinstance(configs[-1].body, Mapping):
        # A config that does not parse is reported as its own verdict.
        with contextlib.suppress(SpecError):
            config = Config.from_dict(with_namespace(configs[-1].body, operator_namespace))
    verdicts: list[Verdict] = []
    for doc in documents:
        if not isinstance(doc.body, Mapping):
            verdicts.append(Verdict(doc, [FieldError("", "is not an object")]))
        elif not doc.is_kubedirector or doc.kind not in (KIND_APP, KIND_CLUSTER, KIND_CONFIG):
            verdicts.append(Verdict(doc, skipped="not a KubeDirector app, cluster or config"))
        elif doc.kind == KIND_APP:
            verdicts.append(Verdict(doc, validate_app(with_namespace(doc.body, namespace))))
        elif doc.kind == KIND_CONFIG:
            body = with_namespace(doc.body, operator_namespace)
            verdicts.append(Verdict(doc, validate_config(body, operator_namespace)))
        else:
            verdicts.append(Verdict(doc, _cluster_errors(doc.body, apps, config, namespace)))
    return verdicts


def _cluster_errors(
    body: Mapping[str, Any], apps: Mapping[str, Any], config: Config, namespace: str
) -> list[FieldError]:
    spec = body.get("spec")
    app_name = spec.get("app") if isinstance(spec, Mapping) else None
    app_doc = apps.get(app_name) if isinstance(app_name, str) else None
    app = _parsed_app(with_namespace(app_doc, namespace)) if app_doc is not None else None
    errors = validate_cluster(with_namespace(body, namespace), app, config)
    if app is None and isinstance(app_name, str):
        why = "is invalid" if app_doc is not None else "is not among the files given"
        errors = [e for e in errors if e.path != "spec.app"]
        errors.insert(
            0,
            FieldError(
                "spec.app",
                f"app {app_name!r} {why}; pass its KubeDirectorApp file too "
                "(the cluster is judged against it)",
            ),
        )
    return errors


def report(verdicts: Sequence[Verdict], out: TextIO) -> int:
    """Print one line per document (a line per error); the exit code: 1 on any error."""
    errors = 0
    for verdict in verdicts:
        where = verdict.document.describe()
        if verdict.skipped:
            print(f"{where}: skipped ({verdict.skipped})", file=out)
        elif verdict.errors:
            for error in verdict.errors:
                print(f"{where}: {error}", file=out)
            errors += len(verdict.errors)
        else:
            print(f"{where}: valid", file=out)
    checked = sum(1 for v in verdicts if not v.skipped)
    print(f"{checked} checked, {errors} error{'s' if errors != 1 else ''}", file=out)
    return 1 if errors else 0


def run_validate(
    paths: Sequence[str], *, namespace: str, operator_namespace: str, out: TextIO, err: TextIO
) -> int:
    try:
        documents = load_documents(paths)
    except DocumentError as e:
        print(f"error: {e}", file=err)
        return 1
    if not documents:
        print("error: no documents found in " + " ".join(paths), file=err)
        return 1
    verdicts = validate_documents(
        documents, namespace=namespace, operator_namespace=operator_namespace
    )
    return report(verdicts, out)
