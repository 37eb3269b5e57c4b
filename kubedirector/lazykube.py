"""Load the kubernetes client package lazily: the operator's base memory is mostly its imports.

`import kubernetes` runs `kubernetes/__init__.py`, which imports every subpackage;
`kubernetes.client` imports every generated API class and `kubernetes.client.models`
every model: about 850 modules and 55 MiB of RSS, while the operator uses
`ApiClient`, `Configuration`, `ApiException`, `kubernetes.config` and
`kubernetes.stream.ws_client`, and never a generated class (it speaks raw JSON,
see kubedirector/kube.py).  `install()` puts stand-ins for those three packages in
`sys.modules`: importing a submodule works as usual, and the first use of any other
name runs the real package `__init__` into the stand-in, so code that wants a
generated class (tests, tools) still gets it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.models")
# Names the stand-in for kubernetes.client serves from one small submodule each.
CLIENT_NAMES = {
    "ApiClient": "kubernetes.client.api_client",
    "Configuration": "kubernetes.client.configuration",
    "ApiException": "kubernetes.client.exceptions",
}
_lock = threading.RLock()


def _stand_in(name: str) -> ModuleType | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return None
    module = importlib.util.module_from_spec(spec)
    loaded = False

    def load_all() -> None:
        nonlocal loaded
        with _lock:
            if not loaded:
                loaded = True
                assert spec.loader is not None
                spec.loader.exec_module(module)

    def __getattr__(attr: str) -> Any:  # noqa: N807 - the module hook's own name
        if attr.startswith("__") and attr not in ("__version__", "__all__"):
            raise AttributeError(attr)  # probes (__wrapped__ ...) must not load it all
        if name == "kubernetes.client" and attr in CLIENT_NAMES:
            value = getattr(importlib.import_module(CLIENT_NAMES[attr]), attr)
            setattr(module, attr, value)
            return value
        try:
            return importlib.import_module(f"{name}.{attr}")
        except ModuleNotFoundError:
            pass
        load_all()
        try:
            return module.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def install() -> bool:
    """Put the lazy stand-ins in place; False (nothing done) if kubernetes was imported already."""
    with _lock:
        if any(p in sys.modules for p in PACKAGES):
            return False
        parent: ModuleType | None = None
        for name in PACKAGES:
            module = _stand_in(name)
            if module is None:
                return False
            sys.modules[name] = module
            if parent is not None:
                setattr(parent, name.rpartition(".")[2], module)
            parent = module
        return True
