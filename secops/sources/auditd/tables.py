"""The audit numbering as data: record types, architectures, syscall and errno names.

Loaded once from `tables.json`, which `generate.py` derives from libaudit and the kernel headers; nothing
here is typed in by hand, so a new kernel's syscalls arrive by regenerating, not by editing code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

_DATA = json.loads((Path(__file__).with_name("tables.json")).read_text())

ARCHES: Final[dict[int, str]] = {int(k, 16): v for k, v in _DATA["arches"].items()}
"""`AUDIT_ARCH_*` value → name (`0xc000003e` → `x86_64`)."""

SYSCALLS: Final[dict[str, dict[str, str]]] = _DATA["syscalls"]
"""Architecture name → syscall number (as written in the log) → syscall name."""

ERRNO: Final[dict[int, str]] = {int(k): v for k, v in _DATA["errno"].items()}
"""errno number → name (`13` → `EACCES`)."""

RECORD_TYPES: Final[dict[str, int]] = _DATA["record_types"]
"""Record type name → number (`SYSCALL` → 1300)."""

CONSTANTS: Final[dict[str, int]] = {**_DATA["constants"], **RECORD_TYPES}
"""Record type numbers plus libaudit's range markers (`LAST_DAEMON`), for category ranges."""


def record_type_number(name: str) -> int | None:
    """Number of a record type as the log names it: `SYSCALL`, or `UNKNOWN[1334]` for newer types."""
    number = RECORD_TYPES.get(name)
    if number is not None:
        return number
    if name.startswith("UNKNOWN[") and name.endswith("]") and name[8:-1].isdigit():
        return int(name[8:-1])
    return int(name) if name.isdigit() else None
