"""Regenerate `tables.json`: the audit numbering (record types, architectures, syscalls, errno names).

These are data, not code: they come from the Linux audit project itself so that a syscall number is named
the way `ausearch -i` names it. Run on a Debian machine with the audit packages installed:

    apt-get install -y auditd libaudit-dev linux-libc-dev
    .venv/bin/python -m secops.sources.auditd.generate

Sources: `libaudit.so.1` (the library behind `ausyscall`; its `audit_syscall_to_name`,
`audit_errno_to_name`, `audit_msg_type_to_name`, `audit_elf_to_machine`), the kernel's
`<linux/audit.h>` and `<linux/elf-em.h>` (`AUDIT_ARCH_*` values) and `<libaudit.h>` (the numeric record
type constants and range markers that the event categories are defined by).
"""

from __future__ import annotations

import ctypes
import json
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLES = HERE / "tables.json"
INCLUDE = Path("/usr/include")
_DEFINE = re.compile(r"^#define\s+(\w+)\s+(.+?)\s*(?:/\*.*|//.*)?$")


def _defines(*headers: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for header in headers:
        text = header.read_text().replace("\\\n", " ")
        for line in text.splitlines():
            match = _DEFINE.match(line.strip())
            if match:
                out.setdefault(match.group(1), match.group(2).strip())
    return out


def _evaluate(expr: str, defines: dict[str, str], depth: int = 0) -> int | None:
    """Integer value of a `#define` made of numbers, other defines, `|` and parentheses."""
    if depth > 8:
        return None
    total = 0
    for part in re.split(r"\|", expr.strip().strip("()")):
        token = part.strip().strip("()").strip()
        if re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", token):
            total |= int(token, 0)
        elif token in defines:
            value = _evaluate(defines[token], defines, depth + 1)
            if value is None:
                return None
            total |= value
        else:
            return None
    return total


def main() -> None:
    lib = ctypes.CDLL("libaudit.so.1")
    for name in ("audit_syscall_to_name", "audit_errno_to_name", "audit_msg_type_to_name",
                 "audit_machine_to_name"):
        getattr(lib, name).restype = ctypes.c_char_p
    lib.audit_elf_to_machine.argtypes = [ctypes.c_uint]

    kernel = _defines(INCLUDE / "linux" / "audit.h", INCLUDE / "linux" / "elf-em.h")
    arches: dict[str, str] = {}
    syscalls: dict[str, dict[str, str]] = {}
    for macro in sorted(k for k in kernel if k.startswith("AUDIT_ARCH_")):
        value = _evaluate(kernel[macro], kernel)
        if value is None:
            continue
        name = macro.removeprefix("AUDIT_ARCH_").lower()
        arches[f"{value:x}"] = name
        machine = lib.audit_elf_to_machine(value)
        if machine < 0:
            continue
        table = {}
        for number in range(0, 4096):
            found = lib.audit_syscall_to_name(number, machine)
            if found:
                table[str(number)] = found.decode()
        if table:
            syscalls[name] = table

    errnos = {}
    for number in range(1, 512):
        found = lib.audit_errno_to_name(number)
        if found:
            errnos[str(number)] = found.decode()

    record_types = {}
    for number in range(1000, 3000):
        found = lib.audit_msg_type_to_name(number)
        if found:
            record_types[found.decode()] = number
    userspace = _defines(INCLUDE / "libaudit.h", INCLUDE / "linux" / "audit.h")
    constants = {}
    for macro, expr in userspace.items():
        if macro.startswith("AUDIT_") and re.fullmatch(r"\d+", expr) and 1000 <= int(expr) < 3000:
            constants[macro.removeprefix("AUDIT_")] = int(expr)

    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libaudit1"],
                             capture_output=True, text=True, check=False).stdout.strip()
    document = {
        "generated_by": "python -m secops.sources.auditd.generate",
        "source": f"Debian libaudit1 {version} (libaudit.so.1) and kernel/libaudit headers",
        "arches": arches,
        "syscalls": syscalls,
        "errno": errnos,
        "record_types": record_types,
        "constants": constants,
    }
    TABLES.write_text(json.dumps(document, indent=0, sort_keys=True) + "\n")
    print(f"wrote {TABLES}: {len(arches)} arches, {len(syscalls)} syscall tables, "
          f"{len(errnos)} errno names, {len(record_types)} record types")


if __name__ == "__main__":
    main()
