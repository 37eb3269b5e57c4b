"""Names of the objects derived from a cluster (api.md section 3).

Names are chosen here, from an injected random source, so the reconciler can
record a name in status before creating the object, and tests are repeatable.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from kubedirector.api.constants import NamingScheme
from kubedirector.api.k8snames import LABEL_MAX

# Characters Kubernetes itself uses for generateName suffixes (no vowels, no look-alikes).
RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
RANDOM_LENGTH = 5
STATEFULSET_MAX = 52
PVC_TEMPLATE = "p"

RandomSource = Callable[[int], str]
"""Returns that many random characters from RANDOM_ALPHABET."""


def random_chars(count: int) -> str:
    """The production random source."""
    return "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(count))


_INVALID = re.compile(r"[^a-z0-9-]")


def dns_label(text: str, max_length: int = LABEL_MAX) -> str:
    """Any string as a DNS-1035 label (valid for every Kubernetes name) of at most
    `max_length` characters: lower-cased, other characters as `-`, starting with a letter.
    """
    label = _INVALID.sub("-", text.lower()).strip("-")
    if not label[:1].isalpha():
        label = f"kd-{label}" if label else "kd"
    return label[:max_length].rstrip("-")


def _prefix(parts: list[str], max_length: int) -> str:
    """`a-b-` from parts, each shortened fairly so the whole fits max_length."""
    budget = max_length - len(parts)  # one '-' after each part
    labels = [dns_label(p) for p in parts]
    while sum(len(x) for x in labels) > budget:
        longest = max(range(len(labels)), key=lambda i: len(labels[i]))
        labels[longest] = labels[longest][:-1].rstrip("-") or labels[longest][:1]
    return "".join(f"{x}-" for x in labels)


def statefulset_name(scheme: str, cluster: str, role: str, rand: RandomSource) -> str:
    """`<cluster>-<role>-xxxxx` (CrNameRole) or `kdss-xxxxx` (UID), within 52 characters."""
    if scheme == NamingScheme.UID:
        return f"kdss-{rand(RANDOM_LENGTH)}"
    return _prefix([cluster, role], STATEFULSET_MAX - RANDOM_LENGTH) + rand(RANDOM_LENGTH)


def headless_service_name(scheme: str, cluster: str, rand: RandomSource) -> str:
    """`<cluster>-xxxxx` (CrNameRole) or `kdhs-xxxxx` (UID)."""
    if scheme == NamingScheme.UID:
        return f"kdhs-{rand(RANDOM_LENGTH)}"
    return _prefix([cluster], LABEL_MAX - RANDOM_LENGTH) + rand(RANDOM_LENGTH)


def pod_name(statefulset: str, ordinal: int) -> str:
    """The StatefulSet controller's name for a pod."""
    return f"{statefulset}-{ordinal}"


def member_service_name(scheme: str, statefulset: str, ordinal: int) -> str:
    """The pod's own name (CrNameRole) or `s-<pod>` (UID)."""
    pod = pod_name(statefulset, ordinal)
    return f"s-{pod}" if scheme == NamingScheme.UID else pod


def pvc_name(pod: str) -> str:
    """The StatefulSet controller names claims `<template>-<pod>`; the template is `p`."""
    return f"{PVC_TEMPLATE}-{pod}"


def block_template_name(index: int) -> str:
    return f"b{index}"
