"""Registry of log sources: the built-in five and any registered under the `egovops.sources` entry point."""

from __future__ import annotations

import importlib
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


def _targets() -> dict[str, str]:
    targets = dict(_BUILTIN)
    for entry in entry_points(group="egovops.sources"):
        targets.setdefault(entry.name, entry.value)
    return targets


def formats() -> list[str]:
    return sorted(_targets())


def source_class(name: str) -> type[AnySource]:
    target = _targets().get(name)
    if target is None:
        raise UnknownFormat(f"unknown format {name!r}; known formats: {', '.join(formats())}")
    module_name, _, attr = target.partition(":")
    cls: type[AnySource] = getattr(importlib.import_module(module_name), attr)
    return cls


def create(name: str, options: SourceOptions | None = None) -> AnySource:
    return source_class(name)(options)


def detect(head: bytes) -> str | None:
    """Name of the format whose signature matches the first bytes of an input, or None."""
    names = list(DETECTION_ORDER) + [n for n in formats() if n not in DETECTION_ORDER]
    for name in names:
        try:
            cls = source_class(name)
        except Exception:
            continue
        if cls.sniff(head):
            return name
    return None
