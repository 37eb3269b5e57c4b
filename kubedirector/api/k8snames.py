"""Kubernetes' syntax rules for names, label keys/values and annotation keys.

Each check returns the reason a value is invalid, or None when it is valid, so
that callers can put the reason into a FieldError.
"""

from __future__ import annotations

import re

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_IANA_SVC_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
PORT_NAME_MAX = 15


def dns1123_label_error(value: str) -> str | None:
    if len(value) > LABEL_MAX:
        return f"must be at most {LABEL_MAX} characters"
    if not _DNS1123_LABEL.fullmatch(value):
        return (
            "must consist of lower case letters, digits and '-', "
            "and start and end with a letter or digit"
        )
    return None


def dns1035_label_error(value: str) -> str | None:
    """Service names: a DNS-1123 label that also starts with a letter."""
    if len(value) > LABEL_MAX:
        return f"must be at most {LABEL_MAX} characters"
    if not _DNS1035_LABEL.fullmatch(value):
        return (
            "must consist of lower case letters, digits and '-', "
            "start with a letter and end with a letter or digit"
        )
    return None


def dns1123_subdomain_error(value: str) -> str | None:
    if len(value) > SUBDOMAIN_MAX:
        return f"must be at most {SUBDOMAIN_MAX} characters"
    if not all(_DNS1123_LABEL.fullmatch(part) for part in value.split(".")):
        return (
            "must consist of lower case letters, digits, '-' and '.', "
            "and start and end with a letter or digit"
        )
    return None


def port_name_error(value: str) -> str | None:
    """Container port names (IANA_SVC_NAME): at most 15 characters, with a letter, no '--'."""
    if len(value) > PORT_NAME_MAX:
        return f"must be at most {PORT_NAME_MAX} characters (it names a container port)"
    if not _IANA_SVC_NAME.fullmatch(value) or "--" in value:
        return (
            "must consist of lower case letters, digits and single '-', "
            "and start and end with a letter or digit"
        )
    if not any(c.isalpha() for c in value):
        return "must contain at least one letter"
    return None


def qualified_name_error(value: str) -> str | None:
    """Label and annotation keys: an optional DNS subdomain prefix, '/', and a name."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return "has an empty prefix before '/'"
        problem = dns1123_subdomain_error(prefix)
        if problem:
            return f"prefix {prefix!r} {problem}"
    if not name:
        return "has an empty name"
    if len(name) > LABEL_MAX:
        return f"name part must be at most {LABEL_MAX} characters"
    if not _QUALIFIED_NAME.fullmatch(name):
        return (
            "name part must consist of letters, digits, '-', '_' and '.', "
            "and start and end with a letter or digit"
        )
    return None


def label_value_error(value: str) -> str | None:
    if not value:
        return None
    if len(value) > LABEL_MAX:
        return f"must be at most {LABEL_MAX} characters"
    if not _QUALIFIED_NAME.fullmatch(value):
        return (
            "must consist of letters, digits, '-', '_' and '.', "
            "and start and end with a letter or digit"
        )
    return None
