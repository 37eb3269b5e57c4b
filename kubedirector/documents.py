"""Reading Kubernetes documents from files for the offline commands (validate, render).

A path may be a file (YAML, possibly multi-document, or JSON), a directory (its
`*.yaml`, `*.yml` and `*.json` files, recursively, in name order) or `-` for
standard input. `kind: List` documents are expanded into their items.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubedirector.api.constants import GROUP

SUFFIXES = (".yaml", ".yml", ".json")


class DocumentError(ValueError):
    """A path that cannot be read or parsed; the message names it."""


@dataclass(frozen=True)
class Document:
    """One document and where it came from (`file` or `file[N]` in a multi-document file)."""

    source: str
    body: Any

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", "")) if isinstance(self.body, dict) else ""

    @property
    def name(self) -> str:
        meta = self.body.get("metadata") if isinstance(self.body, dict) else None
        return str((meta or {}).get("name", "")) if isinstance(meta, dict) else ""

    @property
    def is_kubedirector(self) -> bool:
        api_version = self.body.get("apiVersion") if isinstance(self.body, dict) else None
        return isinstance(api_version, str) and api_version.split("/")[0] == GROUP

    def describe(self) -> str:
        """`source: Kind/name`, how messages refer to the document."""
        return f"{self.source}: {self.kind or '<no kind>'}/{self.name or '<no name>'}"


def _files(path: str) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES)
    if not p.exists():
        raise DocumentError(f"{path}: no such file or directory")
    return [p]


def _parse(text: str, source: str, json_only: bool) -> list[Any]:
    try:
        if json_only:
            return [json.loads(text)]
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except (ValueError, yaml.YAMLError) as e:
        raise DocumentError(f"{source}: cannot parse: {e}") from e


def _expand(body: Any) -> Iterator[Any]:
    if isinstance(body, dict) and body.get("kind") == "List":
        yield from body.get("items") or []
    else:
        yield body


def load_documents(paths: Iterable[str]) -> list[Document]:
    """Every document in `paths`, in order. Raises DocumentError for the first bad path."""
    out: list[Document] = []
    for path in paths:
        if path == "-":
            sources = [("<stdin>", sys.stdin.read(), False)]
        else:
            sources = []
            for f in _files(path):
                try:
                    sources.append((str(f), f.read_text(), f.suffix == ".json"))
                except (OSError, UnicodeDecodeError) as e:
                    raise DocumentError(f"{f}: cannot read: {e}") from e
        for source, text, json_only in sources:
            bodies = [item for doc in _parse(text, source, json_only) for item in _expand(doc)]
            for i, body in enumerate(bodies):
                out.append(Document(f"{source}[{i}]" if len(bodies) > 1 else source, body))
    return out


def with_namespace(body: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The document as the API server sees it: one without a namespace gets the request's."""
    meta = body.get("metadata")
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    meta.setdefault("namespace", namespace)
    return {**body, "metadata": meta}
