"""Desired-versus-actual comparison: is the desired object a semantic subset of the
live one?

Fields the server fills in (absent from desired) are ignored, an empty or false
desired value matches an absent one (the server omits those), quantities under
`resources` and `sizeLimit` compare by value, and lists compare element by
element. A converged reconcile therefore finds no difference and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubedirector.api.fields import join
from kubedirector.api.quantity import same_quantity

_QUANTITY_PARENTS = frozenset({"requests", "limits", "capacity"})
_QUANTITY_KEYS = frozenset({"sizeLimit"})


def _empty(value: Any) -> bool:
    return value is None or value is False or value in ("", [], {})


def semantic_diff(desired: Any, actual: Any, path: str = "") -> list[str]:
    """The paths where `actual` does not hold what `desired` asks for."""
    return _diff(desired, actual, path, key="", container="")


def _diff(desired: Any, actual: Any, path: str, *, key: str, container: str) -> list[str]:
    """`key` names this value in its mapping, `container` names that mapping."""
    if isinstance(desired, Mapping):
        return _diff_mapping(desired, actual, path, key=key)
    if isinstance(desired, list):
        return _diff_list(desired, actual, path)
    if desired == actual or (actual is None and _empty(desired)):
        return []
    is_quantity = key in _QUANTITY_KEYS or container in _QUANTITY_PARENTS
    if is_quantity and same_quantity(desired, actual):
        return []
    return [path or "."]


def _diff_mapping(desired: Mapping[str, Any], actual: Any, path: str, *, key: str) -> list[str]:
    if actual is None and _empty(desired):
        return []
    if not isinstance(actual, Mapping):
        return [path or "."]
    out: list[str] = []
    for child_key, value in desired.items():
        child = join(path, child_key)
        if actual.get(child_key) is None:
            if not _empty(value):
                out.append(child)
            continue
        out += _diff(value, actual[child_key], child, key=child_key, container=key)
    return out


def _diff_list(desired: list[Any], actual: Any, path: str) -> list[str]:
    if actual is None and not desired:
        return []
    if not isinstance(actual, list) or len(actual) != len(desired):
        return [path or "."]
    out: list[str] = []
    for i, (d, a) in enumerate(zip(desired, actual, strict=True)):
        out += _diff(d, a, join(path, i), key="", container="")
    return out
