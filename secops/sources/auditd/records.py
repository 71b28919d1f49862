"""One audit record (one log line): its header and its key=value fields, decoded and named.

The field semantics follow go-libaudit's `auparse`, which Auditbeat uses, so that `auditd.data.*` carries
the values Elastic users know: `arch` and `syscall` named, `exit` as an errno name, `auid` 4294967295 as
`unset`, `success`/`res` folded into `result`, SELinux contexts split, hex-encoded strings decoded. Beyond
auparse it also decodes hex `comm`, long EXECVE arguments split into `aN[i]` pieces, and keeps the names
the enriched log format (`log_format = ENRICHED`) appends after `\\x1d`.
"""

from __future__ import annotations

import contextlib
import re
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv6Address

from secops.events import Rejected, decode
from secops.sources.auditd.tables import ARCHES, ERRNO, SYSCALLS

__all__ = ["Record", "parse_record"]

_HEADER = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>\S+) msg=audit\((?P<sec>\d+)\.(?P<ms>\d+):(?P<seq>\d+)\):?"
)
# auparse's pattern: lower-case keys only, so enriched upper-case names never pollute the raw fields.
_KV = re.compile(r"""([a-z0-9_-]+)=([^"'\s]+|'(?:\\'|[^'])*'|"(?:\\"|[^"])*")""")
_ENRICHED_KV = re.compile(r"""([A-Z][A-Z0-9_]*)=("[^"]*"|\S+)""")
# Enriched names whose \x1d separator was lost (copied logs): `key="x"ARCH=x86_64`, `res=1AUID="bob"`.
_LOST_SEPARATOR = re.compile(
    r"(?<=[^\s=])(?=(?:ARCH|SYSCALL|SADDR|AUID|UID|GID|EUID|SUID|FSUID|EGID|SGID|FSGID|OUID|OGID|"
    r"OAUID|NEW-AUID|OLD-AUID|SAUID|INODE_UID|INODE_GID)=)"
)
_SELINUX_AVC = re.compile(r"avc:\s+(\w+)\s+\{\s*(.*?)\s*\}\s+for\s+")
_EXECVE_PIECE = re.compile(r"\ba(\d+)\[(\d+)\]=(\S+)")
_UPPER_HEX = re.compile(r"(?:[0-9A-F]{2})+")
_DROP = frozenset({"", "?", "?,", "(null)"})
_UNSET = frozenset({"4294967295", "-1"})
_CONTEXT_PARTS = ("_user", "_role", "_domain", "_level", "_category")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERPRETERS = ("/usr/bin/python", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/perl")


@dataclass(slots=True)
class Record:
    """A parsed audit record. `data` holds auparse-style interpreted values (all strings)."""

    type: str
    seconds: int
    millis: int
    sequence: int
    raw: str
    node: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    """Enriched-format interpretations (`UID` → `root`): the names as the logging host resolved them."""

    @property
    def timestamp(self) -> datetime:
        return _EPOCH + timedelta(seconds=self.seconds, milliseconds=self.millis)


def parse_record(line: str) -> Record:
    """Parse one `type=... msg=audit(...)` line; raise `Rejected` when the header is not there."""
    line = line.strip()
    header = _HEADER.match(line)
    if header is None:
        raise Rejected("not an audit record: expected 'type=TYPE msg=audit(SECONDS.MS:SERIAL):'")
    typ = header.group("type")
    millis = header.group("ms")
    record = Record(
        type=typ,
        seconds=int(header.group("sec")),
        millis=int(millis[:3].ljust(3, "0")),
        sequence=int(header.group("seq")),
        raw=line,
        node=header.group("node"),
    )
    body = line[header.end():]
    body, names = _split_enriched(body)
    record.names = names
    data, quoted = _extract(_normalize(typ, body))
    if typ == "EXECVE" and "_len=" in body:
        _join_execve_pieces(body, data, quoted)
    record.tags = _enrich(typ, data, quoted)
    record.data = data
    return record


def _split_enriched(body: str) -> tuple[str, dict[str, str]]:
    sep = body.find("\x1d")
    if sep < 0:
        if "UID=" not in body and "ARCH=" not in body and "SADDR=" not in body:
            return body, {}
        lost = _LOST_SEPARATOR.search(body)
        if lost is None or not _outside_quotes(body, lost.start()):
            return body, {}
        sep = lost.start()
        tail = body[sep:]
    else:
        tail = body[sep + 1:]
    names = {key: value.strip('"') for key, value in _ENRICHED_KV.findall(tail)}
    return body[:sep], names


def _outside_quotes(text: str, position: int) -> bool:
    prefix = text[:position]
    return prefix.count('"') % 2 == 0 and prefix.count("'") % 2 == 0


def _normalize(typ: str, body: str) -> str:
    """Rewrite the few record layouts that are not plain key=value (as auparse does)."""
    if typ == "AVC":
        avc = _SELINUX_AVC.search(body)
        if avc is not None:
            perms = ",".join(avc.group(2).split())
            return f"seresult={avc.group(1)} seperms={perms} {body[avc.end():]}"
    elif typ == "LOGIN":
        return body.replace("old ", "old_", 2).replace("new ", "new_", 2)
    elif typ in ("CRED_DISP", "USER_START", "USER_END"):
        return body.replace(" (hostname=", " hostname=", 2).rstrip(")'")
    return body


def _extract(body: str) -> tuple[dict[str, str], set[str]]:
    """Key/value pairs (nested `msg='...'` flattened) and the keys whose value was quoted."""
    data: dict[str, str] = {}
    quoted: set[str] = set()
    for key, orig in _KV.findall(body):
        value = orig.strip("'\" ")
        if value in _DROP:
            continue
        if key == "msg":
            inner, inner_quoted = _extract(value)
            data.update(inner)
            quoted.update(inner_quoted)
            continue
        data[key] = value
        if orig[0] in "\"'":
            quoted.add(key)
        else:
            quoted.discard(key)
    return data, quoted


def _join_execve_pieces(body: str, data: dict[str, str], quoted: set[str]) -> None:
    """Arguments longer than the kernel's record limit arrive as `a1_len=N a1[0]=.. a1[1]=..`."""
    pieces: dict[int, dict[int, str]] = {}
    for arg, index, value in _EXECVE_PIECE.findall(body):
        pieces.setdefault(int(arg), {})[int(index)] = value
    for arg, parts in pieces.items():
        joined = "".join(parts[i].strip('"') for i in sorted(parts))
        key = f"a{arg}"
        data[key] = joined
        quoted.discard(key)
        data.pop(f"{key}_len", None)


def _hex_bytes(value: str) -> bytes | None:
    return bytes.fromhex(value) if _UPPER_HEX.fullmatch(value) else None


def _hex_decode(data: dict[str, str], quoted: set[str], key: str, stop_at_nul: bool = False) -> None:
    """Decode an unquoted upper-case hex value; NULs separate words (proctitle) or end the string."""
    value = data.get(key)
    if value is None or key in quoted:
        return
    raw = _hex_bytes(value)
    if raw is None:
        return
    if stop_at_nul:
        raw = raw.split(b"\0", 1)[0]
    data[key] = decode(raw).replace("\0", " ")


def _split_context(data: dict[str, str], key: str) -> None:
    value = data.pop(key, None)
    if value is None:
        return
    for suffix, part in zip(_CONTEXT_PARTS, value.split(":", 4), strict=False):
        data[key + suffix] = part


def _rule_keys(data: dict[str, str], quoted: set[str]) -> list[str]:
    value = data.pop("key", None)
    if value is None:
        return []
    if "key" not in quoted:
        raw = _hex_bytes(value)
        if raw is not None:
            return decode(raw).split("\x01")
    return [value.split("=", 1)[-1]]


def _enrich(typ: str, data: dict[str, str], quoted: set[str]) -> list[str]:
    """Interpret the raw fields in place (auparse's enrichment order); return the rule keys."""
    for key in ("auid", "old-auid", "ses"):
        if data.get(key) in _UNSET:
            data[key] = "unset"
    _split_context(data, "subj")

    outcome = data.pop("success", None)
    if outcome is None:
        outcome = data.pop("res", None)
    if outcome is not None:
        lowered = outcome.lower()
        data["result"] = "success" if lowered in ("yes", "1") or lowered.startswith("suc") else "fail"

    exit_code = data.get("exit")
    if exit_code is not None and exit_code.startswith("-") and exit_code[1:].isdigit():
        name = ERRNO.get(int(exit_code[1:]))
        if name is not None:
            data["exit"] = name

    tags = _rule_keys(data, quoted)
    _hex_decode(data, quoted, "cwd")

    if typ in ("SYSCALL", "SECCOMP"):
        if typ == "SECCOMP":
            _name_signal(data)
        _name_syscall(data)
        _hex_decode(data, quoted, "exe")
        _hex_decode(data, quoted, "comm")
    elif typ == "SOCKADDR":
        saddr = data.pop("saddr", None)
        if saddr is not None:
            data.update(parse_sockaddr(saddr))
    elif typ == "PROCTITLE":
        _hex_decode(data, quoted, "proctitle")
    elif typ == "USER_CMD":
        _hex_decode(data, quoted, "cmd")
    elif typ in ("TTY", "USER_TTY"):
        _hex_decode(data, quoted, "data")
    elif typ == "EXECVE":
        argc = data.get("argc", "")
        for index in range(int(argc) if argc.isdigit() else 0):
            _hex_decode(data, quoted, f"a{index}", stop_at_nul=True)
    elif typ == "PATH":
        _split_context(data, "obj")
        _hex_decode(data, quoted, "name")
    elif typ == "USER_LOGIN":
        _hex_decode(data, quoted, "acct")
    elif typ in ("ANOM_ABEND", "ANOM_PROMISCUOUS"):
        _hex_decode(data, quoted, "comm")
        _hex_decode(data, quoted, "exe")
    return tags


def _name_signal(data: dict[str, str]) -> None:
    sig = data.get("sig", "")
    if sig.isdigit():
        with contextlib.suppress(ValueError):
            data["sig"] = signal.Signals(int(sig)).name


def _name_syscall(data: dict[str, str]) -> None:
    arch = data.get("arch")
    if arch is None:
        return
    try:
        arch_name = ARCHES.get(int(arch, 16))
    except ValueError:
        return
    if arch_name is None:
        return
    data["arch"] = arch_name
    number = data.get("syscall")
    if number is not None:
        name = SYSCALLS.get(arch_name, {}).get(number)
        if name is not None:
            data["syscall"] = name


def parse_sockaddr(saddr: str) -> dict[str, str]:
    """Decode a SOCKADDR `saddr` hex blob into family, address, port (or unix socket path)."""
    try:
        family = int(saddr[2:4] + saddr[0:2], 16)
        if family == 1:  # AF_UNIX
            return {"family": "unix", "path": decode(bytes.fromhex(saddr[4:]).split(b"\0", 1)[0])}
        if family == 2 and len(saddr) >= 16:  # AF_INET
            octets = bytes.fromhex(saddr[8:16])
            return {"family": "ipv4", "addr": ".".join(str(b) for b in octets),
                    "port": str(int(saddr[4:8], 16))}
        if family == 10 and len(saddr) >= 48:  # AF_INET6
            out = {"family": "ipv6", "addr": str(IPv6Address(bytes.fromhex(saddr[16:48]))),
                   "port": str(int(saddr[4:8], 16))}
            flow = int(saddr[8:16], 16)
            if flow > 0:
                out["flow"] = str(flow)
            return out
        if family == 16:
            return {"family": "netlink", "saddr": saddr}
        return {"family": str(family), "saddr": saddr}
    except ValueError:
        return {"saddr": saddr}


def how_default(data: dict[str, str]) -> str | None:
    """The default `summary.how`: the executable, or `comm` when it is an interpreter running a script."""
    exe = data.get("exe")
    if exe is None:
        return data.get("comm")
    if exe.startswith(_INTERPRETERS):
        return data.get("comm", exe)
    return exe
