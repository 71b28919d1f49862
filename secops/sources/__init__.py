"""Registry of log sources: the built-in five and any registered under the `egovops.sources` entry point."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points

from secops.sources.base import FileSource, Source, SourceOptions

AnySource = Source | FileSource

_BUILTIN = {
    "suricata": "secops.sources.suricata:SuricataEve",
    "pcap": "secops.sources.pcap:PcapSource",
    "modsecurity": "secops.sources.modsecurity:ModSecurityAudit",
    "auditd": "secops.sources.auditd:AuditdLog",
    "auth": "secops.sources.auth:AuthLog",
}

# Order matters for auto-detection: the most distinctive signatures first.
DETECTION_ORDER = ("pcap", "suricata", "modsecurity", "auditd", "auth")


class UnknownFormat(ValueError):  # noqa: N818 - user-facing condition
    pass


@functools.cache
def _plugins() -> dict[str, str]:
    """Sources registered by other distributions (a built-in name wins). Read once, and only when a
    name is not built in: scanning every installed distribution's entry points took 10-15 ms a time."""
    found: dict[str, str] = {}
    for entry in entry_points(group="egovops.sources"):
        if entry.name not in _BUILTIN:
            found.setdefault(entry.name, entry.value)
    return found


def formats() -> list[str]:
    return sorted({*_BUILTIN, *_plugins()})


def source_class(name: str) -> type[AnySource]:
    target = _BUILTIN.get(name) or _plugins().get(name)
    if target is None:
        raise UnknownFormat(f"unknown format {name!r}; known formats: {', '.join(formats())}")
    module_name, _, attr = target.partition(":")
    cls: type[AnySource] = getattr(importlib.import_module(module_name), attr)
    return cls


def create(name: str, options: SourceOptions | None = None) -> AnySource:
    return source_class(name)(options)


def _detection_order() -> Iterator[str]:
    yield from DETECTION_ORDER
    yield from (name for name in formats() if name not in DETECTION_ORDER)


def detect(head: bytes) -> str | None:
    """Name of the format whose signature matches the first bytes of an input, or None.

    Built-in sources are asked first, in `DETECTION_ORDER`; registered ones only when none matched."""
    for name in _detection_order():
        try:
            cls = source_class(name)
        except Exception:
            continue
        if cls.sniff(head):
            return name
    return None
