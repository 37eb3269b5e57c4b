"""Kubernetes resource quantities as exact decimals.

The original compared quantities after rounding (so `500m` passed a minimum of
`1`); here `500m`, `0.5`, `5e-1` all parse to the same exact Decimal.
"""

from __future__ import annotations

import re
from decimal import Decimal, DecimalException, localcontext

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exponent>[eE][+-]?[0-9]+)|(?P<suffix>[KMGTPE]i|[numkMGTPE]))?"
)


# Enough digits that no quantity of at most _MAX_LENGTH characters is ever rounded.
_MAX_LENGTH = 64
_PRECISION = 128


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """The exact value of a quantity (`500m` -> 0.5, `4Gi` -> 4294967296, `1e3` -> 1000).

    Takes any stored value: what is not a quantity raises QuantityError."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise QuantityError(f"{value!r} is not a quantity")
    match = _QUANTITY.fullmatch(value)
    if match is None or len(value) > _MAX_LENGTH:
        raise QuantityError(f"{value!r} is not a quantity (like 500m, 2, 4Gi or 1e3)")
    try:
        with localcontext(prec=_PRECISION):
            number = Decimal(match["number"])
            if match["exponent"]:
                return number.scaleb(int(match["exponent"][1:]))
            return number * _SUFFIXES[match["suffix"] or ""]
    except DecimalException as exc:
        raise QuantityError(f"{value!r} is out of range") from exc


def same_quantity(a: object, b: object) -> bool:
    """Whether two values are quantities of equal value (`0.5` and `500m`)."""
    try:
        return parse_quantity(a) == parse_quantity(b)
    except QuantityError:
        return False
