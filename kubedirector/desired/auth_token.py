"""Per-member auth tokens for endpoints with `hasAuthToken`.

A token is made once per member, kept in the member's status (`authToken`) and
handed to the app through configmeta; no Kubernetes object carries it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from kubedirector.api.app import AppRole

TOKEN_BYTES = 16

RandomBytes = Callable[[int], bytes]


def needs_auth_token(app_role: AppRole) -> bool:
    """Whether members of the role get a token (one of its endpoints asks for one)."""
    return any(s.endpoint is not None and s.endpoint.has_auth_token for s in app_role.services)


def new_auth_token(random_bytes: RandomBytes = secrets.token_bytes) -> str:
    """A fresh token: 32 hex digits."""
    return random_bytes(TOKEN_BYTES).hex()
