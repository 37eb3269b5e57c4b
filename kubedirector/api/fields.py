"""Typed reads from untrusted dicts that record a FieldError instead of raising.

Parsers use one FieldReader per document so that a bad document reports every
problem with its path, and never escapes as a KeyError or TypeError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubedirector.api.errors import FieldError, SpecError


def join(path: str, key: str | int) -> str:
    """The path of a child: `spec` + `roles` -> `spec.roles`, + 1 -> `spec.roles[1]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


class FieldReader:
    """Collects problems while reading one document."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def raise_if_failed(self) -> None:
        if self.errors:
            raise SpecError(self.errors)

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        """A JSON object; null reads as empty."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"must be an object, not {_type_name(value)}")
            return {}
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        """A JSON array; null reads as empty."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {_type_name(value)}")
            return []
        return value

    def objects(self, obj: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
        """A list of JSON objects under `key`, each checked."""
        here = join(path, key)
        values = self.items(obj.get(key), here)
        return [self.mapping(v, join(here, i)) for i, v in enumerate(values)]

    def string(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        default: str = "",
    ) -> str:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(join(path, key), "is required")
            return default
        if not isinstance(value, str):
            self.fail(join(path, key), f"must be a string, not {_type_name(value)}")
            return default
        if required and not value:
            self.fail(join(path, key), "must not be empty")
        return value

    def opt_string(self, obj: Mapping[str, Any], key: str, path: str) -> str | None:
        if obj.get(key) is None:
            return None
        return self.string(obj, key, path)

    def boolean(
        self, obj: Mapping[str, Any], key: str, path: str, *, default: bool = False
    ) -> bool:
        value = obj.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(join(path, key), f"must be true or false, not {_type_name(value)}")
            return default
        return value

    def integer(self, obj: Mapping[str, Any], key: str, path: str) -> int | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(join(path, key), f"must be an integer, not {_type_name(value)}")
            return None
        return value

    def strings(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        here = join(path, key)
        out: list[str] = []
        for i, v in enumerate(self.items(obj.get(key), here)):
            if isinstance(v, str):
                out.append(v)
            else:
                self.fail(join(here, i), f"must be a string, not {_type_name(v)}")
        return tuple(out)

    def string_map(self, obj: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        here = join(path, key)
        out: dict[str, str] = {}
        for k, v in self.mapping(obj.get(key), here).items():
            if isinstance(v, str):
                out[str(k)] = v
            else:
                self.fail(join(here, str(k)), f"must be a string, not {_type_name(v)}")
        return out

    def quantity_map(self, obj: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        """A resource list: values are quantities, written as strings or plain numbers."""
        here = join(path, key)
        out: dict[str, str] = {}
        for k, v in self.mapping(obj.get(key), here).items():
            if isinstance(v, str) or (isinstance(v, int | float) and not isinstance(v, bool)):
                out[str(k)] = str(v)
            else:
                self.fail(join(here, str(k)), f"must be a quantity, not {_type_name(v)}")
        return out

    def raw(self, obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
        """An object passed through untouched (affinity, env entries): checked only for shape."""
        value = obj.get(key)
        if value is None:
            return None
        return dict(self.mapping(value, join(path, key)))
