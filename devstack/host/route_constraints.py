"""ASP.NET Core inline route constraints ({id:int}, {name:length(3,8)}, ...).

The Functions host routes with ASP.NET Core, so a template like ``items/{id:int}`` only matches
when the segment parses as a 32-bit integer. Each constraint here is a predicate over the
already-decoded segment value; an unknown constraint name is a load-time error, as in ASP.NET.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation

Predicate = Callable[[str], bool]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# .NET Int32.TryParse with NumberStyles.Integer: optional surrounding whitespace, optional sign,
# ASCII digits only (no underscores or other Unicode digits, unlike Python's int()).
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")
_FLOAT = re.compile(
    r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*"
    r"|\s*(?:[+-]?Infinity|NaN|[+-]?∞)\s*"
)
_DECIMAL = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\s*")
_ALPHA = re.compile(r"[A-Za-z]+")
_DATETIME_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%Y/%m/%d")


class ConstraintError(ValueError):
    """A route template names a constraint that cannot be resolved (ASP.NET fails at startup)."""


def _parse_int(value: str, bounds: tuple[int, int]) -> int | None:
    if not _INTEGER.fullmatch(value):
        return None
    number = int(value.strip())
    return number if bounds[0] <= number <= bounds[1] else None


def _is_int(value: str) -> bool:
    return _parse_int(value, INT32) is not None


def _is_long(value: str) -> bool:
    return _parse_int(value, INT64) is not None


def _is_float(value: str) -> bool:
    return bool(_FLOAT.fullmatch(value))


def _is_decimal(value: str) -> bool:
    if not _DECIMAL.fullmatch(value):
        return False
    try:
        Decimal(value.strip())
    except InvalidOperation:
        return False
    return True


def _is_bool(value: str) -> bool:
    return value.strip().lower() in ("true", "false")


def _is_guid(value: str) -> bool:
    text = value.strip()
    if text[:1] + text[-1:] in ("{}", "()"):
        text = text[1:-1]
    if len(text) not in (32, 36):
        return False
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    text = value.strip()
    try:
        datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return True
    for fmt in _DATETIME_FORMATS:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return True
    return False


def _int_args(name: str, args: list[str], count: int) -> list[int]:
    if len(args) != count:
        raise ConstraintError(f"constraint '{name}' takes {count} argument(s), got {len(args)}")
    try:
        return [int(a.strip()) for a in args]
    except ValueError:
        raise ConstraintError(f"constraint '{name}' needs integer arguments: {args}") from None


def _split_args(raw: str | None) -> list[str]:
    return [] if raw is None else raw.split(",")


def build_constraint(name: str, raw_args: str | None) -> Predicate:
    """Return the predicate for one inline constraint, e.g. ('length', '3,8')."""
    key = name.lower()
    simple: dict[str, Predicate] = {
        "int": _is_int,
        "long": _is_long,
        "float": _is_float,
        "double": _is_float,
        "decimal": _is_decimal,
        "bool": _is_bool,
        "guid": _is_guid,
        "datetime": _is_datetime,
        "alpha": lambda v: bool(_ALPHA.fullmatch(v)),
        "required": lambda v: v != "",
        "file": lambda v: "." in v.rsplit("/", 1)[-1].strip("."),
        "nonfile": lambda v: "." not in v.rsplit("/", 1)[-1].strip("."),
    }
    if key in simple:
        if raw_args is not None:
            raise ConstraintError(f"constraint '{name}' takes no arguments")
        return simple[key]
    if key == "regex":
        if raw_args is None:
            raise ConstraintError("constraint 'regex' needs a pattern")
        try:
            # Like RegexRouteConstraint: case-insensitive and *not* implicitly anchored.
            pattern = re.compile(raw_args, re.IGNORECASE)
        except re.error as exc:
            raise ConstraintError(f"invalid regex constraint {raw_args!r}: {exc}") from None
        return lambda v: pattern.search(v) is not None
    args = _split_args(raw_args)
    if key == "minlength":
        (low,) = _int_args(name, args, 1)
        return lambda v: len(v) >= low
    if key == "maxlength":
        (high,) = _int_args(name, args, 1)
        return lambda v: len(v) <= high
    if key == "length":
        if len(args) == 1:
            (exact,) = _int_args(name, args, 1)
            return lambda v: len(v) == exact
        low, high = _int_args(name, args, 2)
        return lambda v: low <= len(v) <= high
    if key in ("min", "max", "range"):
        bounds = _int_args(name, args, 2 if key == "range" else 1)
        low = bounds[0] if key in ("min", "range") else INT64[0]
        high = bounds[-1] if key in ("max", "range") else INT64[1]

        def in_range(value: str) -> bool:
            number = _parse_int(value, INT64)
            return number is not None and low <= number <= high

        return in_range
    raise ConstraintError(f"the route constraint '{name}' could not be resolved")
