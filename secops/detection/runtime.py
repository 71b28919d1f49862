"""Value access and the few comparisons the generated matchers call out to.

The generated code inlines the common case (a string value, a dict on the path) and calls these for the
rest: lists (Sigma's "any element" semantics, as in Elasticsearch), numbers, addresses, time parts.
Everything here is total: a missing field, a dict where a string was expected or a malformed address
is simply "no match", never an exception in the middle of a stream.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

SEP = "\x1f"
"""Joins the values of a list (or of several fields) for substring tests: a string that does not contain
it cannot match across two values."""


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A lazily computed per-event value not computed yet."""


def tail(node: Any, parts: tuple[str, ...], start: int) -> Any:
    """Finish resolving `parts[start:]` from `node`: through lists (every element, or `N` for one)."""
    for index in range(start, len(parts)):
        if node.__class__ is dict:
            node = node.get(parts[index])
        elif node.__class__ is list:
            part = parts[index]
            if part.isdigit():
                position = int(part)
                node = node[position] if position < len(node) else None
            else:
                found = [tail(item, parts, index) for item in node]
                return _flatten(found)
        else:
            return None
        if node is None:
            return None
    if node.__class__ is list:
        return node or None
    return node


def resolve(doc: Any, path: str) -> Any:
    """A dotted field of a nested document; a list when it runs through lists; None when absent."""
    return tail(doc, tuple(path.split(".")), 0)


def _flatten(values: list[Any]) -> Any:
    flat: list[Any] = []
    for value in values:
        if value.__class__ is list:
            flat.extend(v for v in value if v is not None)
        elif value is not None:
            flat.append(value)
    return flat or None


def _scalar_text(value: Any) -> str | None:
    if value.__class__ is str:
        return value
    if value is None or value.__class__ is dict or value.__class__ is list:
        return None
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def text(value: Any) -> Any:
    """A value as text for string tests: a str, a tuple of str for a list, or None."""
    if value.__class__ is str:
        return value
    if value.__class__ is list:
        return tuple(
            [
                v if v.__class__ is str else t
                for v in value
                if v.__class__ is str or (t := _scalar_text(v)) is not None
            ]
        )
    return _scalar_text(value)


def lowered(value: Any) -> Any:
    """`text`, lower-cased: Sigma compares strings case-insensitively."""
    if value.__class__ is list:
        return tuple([t.lower() for t in text(value)])
    found = _scalar_text(value)
    return found.lower() if found is not None else None


def joined(values: tuple[Any, ...], lower: bool) -> str | None:
    """The text of one or more fields as one string, values separated by `SEP`, for substring tests."""
    pieces: list[str] = []
    for value in values:
        found = text(value)
        if found.__class__ is str:
            pieces.append(found)
        elif found:
            pieces.extend(found)
    if not pieces:
        return None
    out = pieces[0] if len(pieces) == 1 else SEP.join(pieces)
    return out.lower() if lower else out


def any_prefix(values: tuple[str, ...], prefixes: tuple[str, ...]) -> bool:
    return any(v.startswith(prefixes) for v in values)


def any_suffix(values: tuple[str, ...], suffixes: tuple[str, ...]) -> bool:
    return any(v.endswith(suffixes) for v in values)


def any_search(pattern: Any, values: tuple[str, ...]) -> bool:
    return any(pattern.search(v) is not None for v in values)


def _numbers(value: Any) -> list[float]:
    items = value if value.__class__ is list else [value]
    out: list[float] = []
    for item in items:
        if item is True or item is False or item is None:
            continue
        if isinstance(item, int | float):
            out.append(item)
        elif isinstance(item, str):
            try:
                out.append(float(item))
            except ValueError:
                continue
    return out


def number_equals(value: Any, number: float) -> bool:
    """A Sigma number: equal as a number, or as the text of a string field (`a1: 777` vs "777")."""
    if value is None:
        return False
    if value.__class__ is str:
        return value == str(number)
    if value.__class__ is list:
        return any(number_equals(v, number) for v in value)
    if value is True or value is False:
        return False
    return bool(value == number)


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "neq": operator.ne,
}


def compare(value: Any, op: str, number: float) -> bool:
    test = _COMPARE[op]
    return any(test(v, number) for v in _numbers(value))


def boolean(value: Any, wanted: bool) -> bool:
    items = value if value.__class__ is list else [value]
    for item in items:
        if item is wanted or (item.__class__ is str and item.lower() == ("true" if wanted else "false")):
            return True
    return False


@lru_cache(maxsize=65536)
def _address(value: str) -> Any:
    try:
        return ip_address(value)
    except ValueError:
        return None


def in_network(value: Any, network: IPv4Network | IPv6Network) -> bool:
    items = value if value.__class__ is list else [value]
    for item in items:
        if item.__class__ is str:
            address = _address(item)
            if address is not None and address.version == network.version and address in network:
                return True
    return False


def field_equals(left: Any, right: Any, mode: str) -> bool:
    """`fieldref`: one field's (lowered) value against another's, any element against any element."""
    if left is None or right is None:
        return False
    lefts = (left,) if left.__class__ is str else left
    rights = (right,) if right.__class__ is str else right
    for a in lefts:
        for b in rights:
            if (
                (mode == "eq" and a == b)
                or (mode == "prefix" and a.startswith(b))
                or (mode == "suffix" and a.endswith(b))
                or (mode == "contains" and b in a)
            ):
                return True
    return False


_PARTS = {
    "minute": lambda t: t.minute,
    "hour": lambda t: t.hour,
    "day": lambda t: t.day,
    "week": lambda t: t.isocalendar()[1],
    "month": lambda t: t.month,
    "year": lambda t: t.year,
}


def time_part(value: Any, part: str, number: float) -> bool:
    """`|minute`, `|hour`, ...: a part of an ISO 8601 time (UTC as egovops stores it)."""
    if value.__class__ is not str:
        return False
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return bool(_PARTS[part](moment) == number)
