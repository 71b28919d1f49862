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
from functools import lru_cache
from ipaddress import IPv6Address

from secops.events import Rejected, decode
from secops.sources.auditd.tables import ARCHES, ERRNO, SYSCALLS

__all__ = ["Record", "parse_record"]

_HEADER = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):?")
# auparse's pattern: lower-case keys only, so enriched upper-case names never pollute the raw fields. Written
# for speed but matching exactly what `([a-z0-9_-]+)=([^"'\s]+|'(?:\\'|[^'])*'|"(?:\\"|[^"])*")` matches:
# the look-behind skips starts inside a key (they cannot succeed where the key's start failed) and the
# quoted values are unrolled (`\'` still escapes a quote; without a closing quote, the last `\'` closes).
_KV = re.compile(
    r"""(?<![a-z0-9_-])([a-z0-9_-]+)=([^"'\s]+|'[^'\\]*(?:\\'?[^'\\]*)*'|"[^"\\]*(?:\\"?[^"\\]*)*")"""
)
_ENRICHED_KV = re.compile(r"""([A-Z][A-Z0-9_]*)=("[^"]*"|\S+)""")
# Enriched names whose \x1d separator was lost (copied logs): `key="x"ARCH=x86_64`, `res=1AUID="bob"`.
_LOST_SEPARATOR = re.compile(
    r"(?<=[^\s=])(?=(?:ARCH|SYSCALL|SADDR|AUID|UID|GID|EUID|SUID|FSUID|EGID|SGID|FSGID|OUID|OGID|"
    r"OAUID|NEW-AUID|OLD-AUID|SAUID|INODE_UID|INODE_GID)=)"
)
_SELINUX_AVC = re.compile(r"avc:\s+(\w+)\s+\{\s*(.*?)\s*\}\s+for\s+")
_EXECVE_PIECE = re.compile(r"\ba(\d+)\[(\d+)\]=(\S+)")
_DROP = frozenset({"", "?", "?,", "(null)"})
_UNSET = frozenset({"4294967295", "-1"})
_CONTEXT_PARTS = ("_user", "_role", "_domain", "_level", "_category")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERPRETERS = ("/usr/bin/python", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/perl")
_UNSET_FIELDS = ("auid", "old-auid", "ses")
_COMMON = frozenset({*_UNSET_FIELDS, "subj", "success", "res", "exit", "key"})
"""The fields `_enrich` interprets in any record type."""
_EXIT_NAMES = {f"-{number}": name for number, name in ERRNO.items()}
"""`exit` as the kernel writes it (`-13`) → errno name; other spellings go through `int`."""
_HEX_ANYWHERE = ("cwd",)
_HEX_FIELDS = {
    "SYSCALL": ("cwd", "exe", "comm"), "SECCOMP": ("cwd", "exe", "comm"), "PROCTITLE": ("cwd", "proctitle"),
    "USER_CMD": ("cwd", "cmd"), "TTY": ("cwd", "data"), "USER_TTY": ("cwd", "data"), "PATH": ("cwd", "name"),
    "USER_LOGIN": ("cwd", "acct"), "ANOM_ABEND": ("cwd", "comm", "exe"),
    "ANOM_PROMISCUOUS": ("cwd", "comm", "exe"),
}
"""Fields that hold hex-encoded text when unquoted, by record type (NULs become spaces)."""
_ARGUMENT = re.compile(r"a(?:0|[1-9][0-9]*)")
_NO_SYSCALLS: dict[str, str] = {}
_REWRITTEN = frozenset({"AVC", "LOGIN", "CRED_DISP", "USER_START", "USER_END"})
"""Record types whose body `_normalize` rewrites."""
_QUOTES = "'\""
_STRIP = "'\" "
_KEY = re.compile(r"[a-z0-9_-]+")
_KEYS: set[str] = {"arch", "syscall", "success", "exit", "pid", "uid", "auid", "ses", "key", "name"}
"""Field names already known to match `_KEY` (a memo for `_words`; never `msg`)."""


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
    node, typ, seconds, millis, sequence = header.groups()
    body = line[header.end():]
    names: dict[str, str] = {}
    if "\x1d" in body or "UID=" in body or "ARCH=" in body or "SADDR=" in body:
        body, names = _split_enriched(body)
    data, quoted = _extract(_normalize(typ, body) if typ in _REWRITTEN else body)
    if typ == "EXECVE" and "_len=" in body:
        _join_execve_pieces(body, data, quoted)
    tags = _enrich(typ, data, quoted)
    return Record(typ, int(seconds), int(millis) if len(millis) == 3 else int(millis[:3].ljust(3, "0")),
                  int(sequence), line, node, data, tags, names)


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
    """Key/value pairs (nested `msg='...'` flattened) and the keys whose value was quoted.

    Most records are plain `key=value` / `key="value"` words, with at most one `msg='...'`: `_words` reads
    those several times faster than the regex loop (`_pairs`), which handles everything else.
    """
    if "\\" not in body:
        quote = body.find("'")
        if quote < 0:
            found = _words(body)
        elif quote >= 4 and body.startswith("msg=", quote - 4) and (quote == 4 or body[quote - 5].isspace()):
            found = _with_message(body, quote)
        else:
            found = None
        if found is not None:
            return found
    return _pairs(body)


def _with_message(body: str, quote: int) -> tuple[dict[str, str], set[str]] | None:
    """`_words` for a body with one `msg='` word (at `quote`), as the regex reads it."""
    end = body.find("'", quote + 1)
    if end < 0:  # unclosed (`_normalize` strips it from USER_START...): the message's words are the record's
        return _words(f"{body[:quote - 4]} {body[quote + 1:]}")
    if body.find("'", end + 1) >= 0:
        return None
    before = _words(body[:quote - 4])
    after = _words(body[end + 1:])
    if before is None or after is None:
        return None
    data, quoted = before
    message = body[quote + 1:end].strip(_STRIP)
    if message not in _DROP:
        _merge(data, quoted, message)
    if after[0]:  # words after the message: they win, as later words do in the regex loop
        data.update(after[0])
        quoted.difference_update(after[0])
        quoted.update(after[1])
    return data, quoted


def _pairs(body: str) -> tuple[dict[str, str], set[str]]:
    """`_extract` for any text: auparse's regex, the last of repeated keys winning."""
    data: dict[str, str] = {}
    quoted: set[str] = set()
    for key, raw in _KV.findall(body):
        if raw[0] in _QUOTES:
            value = raw.strip(_STRIP)
            if value in _DROP:
                continue
            if key == "msg":
                _merge(data, quoted, value)
                continue
            data[key] = value
            quoted.add(key)
        elif raw not in _DROP:  # an unquoted value holds no quote or space: nothing to strip
            if key == "msg":
                _merge(data, quoted, raw)
                continue
            data[key] = raw
            if quoted:
                quoted.discard(key)
    return data, quoted


def _words(text: str) -> tuple[dict[str, str], set[str]] | None:
    """`_extract` for text without `'` or `\\` made of whitespace-separated words, as the regex reads them.

    A word `key=value` or `key="value"` is a pair; one without `=`, or whose only `=` ends it, holds none.
    None for anything else (then the regex decides): a key that is not `[a-z0-9_-]+` (the regex may find
    one inside it) or is `msg`, a `"` anywhere but around a whole value.
    """
    data: dict[str, str] = {}
    quoted: set[str] = set()
    keys = _KEYS
    quotes = 0
    for word in text.split():
        key, _, value = word.partition("=")
        if not value:
            if '"' in word:
                return None
            continue
        if key not in keys:
            if key == "msg" or _KEY.fullmatch(key) is None:
                return None
            if len(keys) < 4096:
                keys.add(key)
        first = value[0]
        if first == '"':
            if value[-1] != '"' or value.count('"') != 2:
                return None
            quotes += 2
            value = value[1:-1]
            if value in _DROP:
                continue
            data[key] = value
            quoted.add(key)
        elif first not in "?(" or value not in _DROP:
            data[key] = value
            if quoted:
                quoted.discard(key)
    if quotes != text.count('"'):
        return None  # a quote inside an unquoted value
    return data, quoted


def _merge(data: dict[str, str], quoted: set[str], message: str) -> None:
    """Flatten a nested `msg='k=v ...'` into the record's fields."""
    inner, inner_quoted = _extract(message)
    data.update(inner)
    quoted.update(inner_quoted)


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


def _is_hex(value: str) -> bool:
    """Upper-case hex bytes (`(?:[0-9A-F]{2})+`, tested without a regex: those are long here)."""
    return len(value) % 2 == 0 and value != "" and not value.strip("0123456789ABCDEF")


def _hex_bytes(value: str) -> bytes | None:
    return bytes.fromhex(value) if _is_hex(value) else None


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
    get = data.get
    tags: list[str] = []
    if not _COMMON.isdisjoint(data):  # most records other than the event's first have none of these
        for key in _UNSET_FIELDS:
            if get(key) in _UNSET:
                data[key] = "unset"
        if "subj" in data:
            _split_context(data, "subj")

        outcome = data.pop("success", None)
        if outcome is None:
            outcome = data.pop("res", None)
        if outcome is not None:
            lowered = outcome.lower()
            data["result"] = "success" if lowered in ("yes", "1") or lowered.startswith("suc") else "fail"

        exit_code = get("exit")
        if exit_code is not None and exit_code[:1] == "-":
            name = _EXIT_NAMES.get(exit_code)
            if name is None and exit_code[1:].isdigit():
                name = ERRNO.get(int(exit_code[1:]))
            if name is not None:
                data["exit"] = name

        if "key" in data:
            tags = _rule_keys(data, quoted)
    if typ in {"SYSCALL", "SECCOMP"}:
        if typ == "SECCOMP":
            _name_signal(data)
        _name_syscall(data)
    elif typ == "SOCKADDR":
        saddr = data.pop("saddr", None)
        if saddr is not None:
            data.update(parse_sockaddr(saddr))
    elif typ == "EXECVE":
        argc = get("argc", "")
        count = int(argc) if argc.isdigit() else 0
        # only the arguments present: a forged huge argc must not loop for minutes
        for key in [f"a{i}" for i in range(count)] if count <= len(data) else _arguments_below(data, count):
            value = get(key)
            if value is not None and key not in quoted and _is_hex(value):
                data[key] = decode(bytes.fromhex(value).split(b"\0", 1)[0]).replace("\0", " ")
    elif typ == "PATH":
        _split_context(data, "obj")
    for key in _HEX_FIELDS.get(typ, _HEX_ANYWHERE):
        value = get(key)
        if value is not None and key not in quoted and _is_hex(value):
            data[key] = decode(bytes.fromhex(value)).replace("\0", " ")
    return tags


def _arguments_below(data: dict[str, str], count: int) -> list[str]:
    """The EXECVE argument keys `a0`, `a1`, ... present in `data` with an index below `count`."""
    return [key for key in data if _ARGUMENT.fullmatch(key) and int(key[1:]) < count]


def _name_signal(data: dict[str, str]) -> None:
    sig = data.get("sig", "")
    if sig.isdigit():
        with contextlib.suppress(ValueError):
            data["sig"] = signal.Signals(int(sig)).name


def _name_syscall(data: dict[str, str]) -> None:
    arch = data.get("arch")
    if arch is None:
        return
    arch_name = _arch_name(arch)
    if arch_name is None:
        return
    data["arch"] = arch_name
    number = data.get("syscall")
    if number is not None:
        name = SYSCALLS.get(arch_name, _NO_SYSCALLS).get(number)
        if name is not None:
            data["syscall"] = name


@lru_cache(maxsize=256)
def _arch_name(arch: str) -> str | None:
    """`c000003e` → `x86_64` (remembered: a log names a handful of architectures)."""
    try:
        return ARCHES.get(int(arch, 16))
    except ValueError:
        return None


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
