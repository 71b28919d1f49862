"""Coalesce the records of one audit event into one ECS document, the way Auditbeat does.

An event is a SYSCALL with its PATH, CWD, EXECVE, SOCKADDR and PROCTITLE records, or a single
user-space record (USER_LOGIN, CRED_ACQ, ...). It is summarised as actor / action / object / how (the
model of go-libaudit's `aucoalesce`; the mapping is data in `normalizations.yaml`) and written with
Auditbeat's auditd field layout: `auditd.summary.*`, `auditd.data.*`, `auditd.paths`, `process.*`,
`user.*`, `file.*`, `source.*`/`destination.*`, `event.action` and `event.outcome`.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from secops.events import Doc, Rejected, format_ts, put
from secops.sources.auditd.records import Record, how_default
from secops.sources.auditd.tables import CONSTANTS, record_type_number

__all__ = ["Accounts", "coalesce"]


# --- the normalisation data ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Normalization:
    """One entry of `normalizations.yaml`: what a syscall or record type means."""

    action: str | None = None
    actor_primary: tuple[str, ...] = ()
    actor_secondary: tuple[str, ...] = ()
    object_type: str | None = None
    object_primary: tuple[str, ...] = ()
    object_secondary: tuple[str, ...] = ()
    path_index: int = 0
    how: tuple[str, ...] = ()
    source_ip: tuple[str, ...] = ()
    has_fields: tuple[str, ...] = ()
    kind: str | None = None
    category: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    mappings: tuple[tuple[str, str], ...] = ()


def _normalization(entry: Mapping[str, Any]) -> Normalization:
    actor = entry.get("actor") or {}
    obj = entry.get("object") or {}
    ecs = entry.get("ecs") or {}
    return Normalization(
        action=entry.get("action"),
        actor_primary=tuple(actor.get("primary", ())),
        actor_secondary=tuple(actor.get("secondary", ())),
        object_type=obj.get("type"),
        object_primary=tuple(obj.get("primary", ())),
        object_secondary=tuple(obj.get("secondary", ())),
        path_index=int(obj.get("path_index", 0)),
        how=tuple(entry.get("how", ())),
        source_ip=tuple(entry.get("source_ip", ())),
        has_fields=tuple(entry.get("has_fields", ())),
        kind=ecs.get("kind"),
        category=tuple(ecs.get("category", ())),
        type=tuple(ecs.get("type", ())),
        mappings=tuple((ecs.get("map") or {}).items()),
    )


@dataclass(frozen=True, slots=True)
class Normalizations:
    by_syscall: dict[str, Normalization]
    by_record_type: dict[str, list[Normalization]]
    categories: list[tuple[str, int, int]]
    category_cache: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Normalizations:
        document = yaml.safe_load(path.read_text())
        by_syscall: dict[str, Normalization] = {}
        by_record_type: dict[str, list[Normalization]] = {}
        for entry in document["entries"]:
            norm = _normalization(entry)
            for name in entry.get("syscalls", ()):
                if name in by_syscall:
                    raise ValueError(f"{path}: syscall {name} is mapped twice")
                by_syscall[name] = norm
            for name in entry.get("record_types", ()):
                by_record_type.setdefault(name, []).append(norm)
        categories = [
            (category, CONSTANTS[first], CONSTANTS[last])
            for category, ranges in document["categories"].items()
            for first, last in ranges
        ]
        return cls(by_syscall, by_record_type, categories)

    def category(self, record_type: str) -> str:
        """Auditbeat's coarse class of an event (`audit-rule`, `user-login`, ...) by record type."""
        number = record_type_number(record_type)
        if number is not None:
            for category, first, last in self.categories:
                if first <= number <= last:
                    return category
        return "unknown"

    def category_of(self, record_type: str) -> str:
        """`category`, remembered per record type (there are a few hundred at most)."""
        found = self.category_cache.get(record_type)
        if found is None:
            found = self.category_cache[record_type] = self.category(record_type)
        return found


NORMALIZATIONS = Normalizations.load(Path(__file__).with_name("normalizations.yaml"))


@dataclass(frozen=True, slots=True)
class Accounts:
    """Optional id → name tables (from the audited host's passwd and group files)."""

    users: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)

    def name(self, key: str, value: str) -> str | None:
        table = self.groups if key.endswith("gid") else self.users
        return table.get(value)


# --- the coalesced event ------------------------------------------------------------------------------

_ID_FIELDS = {
    "uid": "user.id", "gid": "user.group.id", "euid": "user.effective.id",
    "egid": "user.effective.group.id", "suid": "user.saved.id", "sgid": "user.saved.group.id",
    "fsuid": "user.filesystem.id", "fsgid": "user.filesystem.group.id", "auid": "user.audit.id",
}
_ENTITIES = ("user", "user.effective", "user.target", "user.changes", "group")
_INCOMING = frozenset({"recvfrom", "recvmsg", "accept", "accept4"})
_OUTGOING = frozenset({"connect", "sendto", "sendmsg"})
_FILE_TYPES = (
    (stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"), (stat.S_ISCHR, "character-device"),
    (stat.S_ISBLK, "block-device"), (stat.S_ISFIFO, "named-pipe"), (stat.S_ISLNK, "symlink"),
    (stat.S_ISSOCK, "socket"),
)


@dataclass(slots=True)
class _Event:
    main: Record
    data: dict[str, str]
    result: str = "unknown"
    session: str | None = None
    actor_primary: str = ""
    actor_secondary: str = ""
    action: str | None = None
    object_type: str | None = None
    object_primary: str = ""
    object_secondary: str = ""
    how: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    selinux: dict[str, str] = field(default_factory=dict)
    paths: list[Record] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    file: Doc | None = None
    source: Doc | None = None
    destination: Doc | None = None
    direction: str | None = None
    kind: str | None = None
    category: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    entities: dict[str, str] = field(default_factory=dict)
    """ECS entity → the summary value mapped to it (`user` → `1000`)."""

    def value(self, key: str) -> str | None:
        """A field of the event: its data first, then its user ids (auparse's `getValue`)."""
        found = self.data.get(key)
        return found if found is not None else self.ids.get(key)

    def first(self, keys: Sequence[str]) -> str | None:
        for key in keys:
            found = self.value(key)
            if found is not None:
                return found
        return None


def _new_event(main: Record, syscall: Record | None) -> _Event:
    source = syscall or main
    data = dict(source.data)
    event = _Event(main=main, data={})
    result = data.pop("result", None)
    if result is not None:
        event.result = result
    event.session = data.pop("ses", None)
    event.actor_primary = data.get("auid", "")
    event.actor_secondary = data.get("uid", "")
    for key, value in data.items():
        if key.endswith(("uid", "gid")):
            event.ids[key] = value
        elif key.startswith("subj_"):
            event.selinux[key[5:]] = value
        else:
            event.data[key] = value
    event.names.update(source.names)
    return event


def _add_sockaddr(record: Record, event: _Event) -> None:
    syscall = event.data.get("syscall")
    if syscall is None:
        return
    for key, value in record.data.items():
        event.data["socket_" + key] = value
    address = {k: v for k, v in (("ip", record.data.get("addr")), ("port", record.data.get("port")),
                                 ("path", record.data.get("path"))) if v}
    if syscall in _INCOMING:
        event.source = address or None
        event.direction = "ingress"
    elif syscall in _OUTGOING:
        event.destination = address or None
        event.direction = "egress"


def _add_execve(record: Record, event: _Event) -> None:
    argc = record.data.get("argc")
    if argc is None:
        return
    event.data["argc"] = argc
    args = []
    for index in range(int(argc) if argc.isdigit() else 0):
        arg = record.data.get(f"a{index}")
        if arg is None:
            break
        args.append(arg)
    event.args = args


def _compound(records: list[Record]) -> _Event:
    special = None if records[0].type == "SYSCALL" else records[0]
    syscall = next((r for r in records if r.type == "SYSCALL"), None)
    event = _new_event(special or records[0], syscall)
    for record in records:
        if record is syscall:
            event.data.pop("items", None)
        elif record.type == "PATH":
            event.paths.append(record)
        elif record.type == "SOCKADDR":
            _add_sockaddr(record, event)
        elif record.type == "EXECVE":
            _add_execve(record, event)
        elif syscall is not None or record is not records[0]:
            for key, value in record.data.items():
                event.data.setdefault(key, value)
    return event


def _set_file_object(event: _Event, path_index: int) -> None:
    if not event.paths:
        return
    index = path_index if len(event.paths) > path_index else 0
    chosen = event.paths[index]
    for candidate in event.paths[index:]:
        if candidate.data.get("nametype") not in ("PARENT", "UNKNOWN"):
            chosen = candidate
            break
    path = chosen.data
    file: Doc = {}
    name = path.get("name")
    if name is not None:
        event.object_primary = name
        file["path"] = name
    for key, target in (("inode", "inode"), ("rdev", "device"), ("ouid", "uid"), ("ogid", "gid")):
        if key in path:
            file[target] = path[key]
    mode = path.get("mode")
    if mode is not None:
        try:
            bits = int(mode, 8)
        except ValueError:
            bits = -1
        if bits >= 0:
            file["mode"] = f"{stat.S_IMODE(bits):04o}"
            for test, object_type in _FILE_TYPES:
                if test(bits):
                    event.object_type = object_type
                    break
    selinux = {k[4:]: v for k, v in path.items() if k.startswith("obj_")}
    if selinux:
        file["selinux"] = selinux
    for key, target in (("OUID", "owner"), ("OGID", "group")):
        if key in chosen.names:
            file[target] = chosen.names[key]
    event.file = file


def _set_socket_object(event: _Event) -> None:
    primary = event.data.get("socket_addr") or event.data.get("socket_path")
    if primary:
        event.object_primary = primary
    port = event.data.get("socket_port")
    if port:
        event.object_secondary = port


def _normalize(event: _Event) -> None:
    """Apply the matching normalisation: action, object, actor, how and ECS categorisation."""
    how = how_default(event.data)
    if how is not None:
        event.how = how
    syscall_norm = None
    syscall = event.data.get("syscall")
    if syscall is not None:
        syscall_norm = NORMALIZATIONS.by_syscall.get(syscall) or NORMALIZATIONS.by_syscall.get("*")
    norm = None
    if event.main.type == "SYSCALL":
        norm = syscall_norm
    else:
        for candidate in NORMALIZATIONS.by_record_type.get(event.main.type, ()):
            if all(f in event.data for f in candidate.has_fields):
                norm = candidate
    if norm is None:
        return
    event.kind = norm.kind
    event.category = list(norm.category)
    event.type = list(norm.type)
    if syscall_norm is not None and syscall_norm is not norm:
        event.category += syscall_norm.category
        event.type += syscall_norm.type
    event.action = norm.action
    event.object_type = norm.object_type
    if norm.object_type in ("file", "filesystem"):
        _set_file_object(event, norm.path_index)
    elif norm.object_type == "socket":
        _set_socket_object(event)
    for keys, attr in ((norm.actor_primary, "actor_primary"), (norm.actor_secondary, "actor_secondary"),
                       (norm.object_primary, "object_primary"),
                       (norm.object_secondary, "object_secondary"), (norm.how, "how")):
        found = event.first(keys)
        if found is not None:
            setattr(event, attr, found)
    if event.source is None:
        for key in norm.source_ip:
            ip = event.data.pop(key, None)
            if ip is not None:
                event.source = {"ip": ip}
                event.direction = "ingress"
                break
    summary = {"actor.primary": event.actor_primary, "actor.secondary": event.actor_secondary,
               "object.primary": event.object_primary, "object.secondary": event.object_secondary}
    for entity, source in norm.mappings:
        value = event.ids.get(source[4:], "") if source.startswith("uid.") else summary.get(source, "")
        event.entities[entity] = value


def coalesce(records: list[Record], accounts: Accounts | None = None) -> Doc:
    """One ECS document for the records of one event (same serial)."""
    records = [r for r in records if r.type != "EOE"]
    if not records:
        raise Rejected("audit event has only an EOE record")
    event = _compound(records) if len(records) > 1 else _new_event(records[0], None)
    _normalize(event)
    return _document(event, records, accounts or Accounts())


# --- the ECS document ---------------------------------------------------------------------------------


def _name_of(event: _Event, key: str, value: str, accounts: Accounts) -> str | None:
    return event.names.get(key.upper()) or accounts.name(key, value)


def _document(event: _Event, records: list[Record], accounts: Accounts) -> Doc:
    main = event.main
    doc: Doc = {"@timestamp": format_ts(main.timestamp)}
    outcome = {"success": "success", "fail": "failure"}.get(event.result, "unknown")
    ecs_event: Doc = {"kind": event.kind or "event", "outcome": outcome}
    if event.category:
        ecs_event["category"] = event.category
        ecs_event["type"] = event.type
    if event.action:
        ecs_event["action"] = event.action
    doc["event"] = ecs_event

    auditd: Doc = {"message_type": main.type.lower(), "sequence": main.sequence, "result": event.result,
                   "category": NORMALIZATIONS.category_of(main.type)}
    if event.session is not None and event.session != "unset":
        auditd["session"] = event.session
    actor = {k: v for k, v in (("primary", event.actor_primary), ("secondary", event.actor_secondary)) if v}
    obj = {k: v for k, v in (("type", event.object_type), ("primary", event.object_primary),
                             ("secondary", event.object_secondary)) if v}
    summary: Doc = {"actor": actor} if actor else {}
    if obj:
        summary["object"] = obj
    if event.how:
        summary["how"] = event.how
    auditd["summary"] = summary
    process = _process(event)
    data: Doc = {}
    for key, value in event.data.items():
        if key.startswith("socket_"):
            data.setdefault("socket", {})[key[7:]] = value
        else:
            data[key] = value
    if data:
        auditd["data"] = data
    if event.paths:
        auditd["paths"] = [dict(p.data) for p in event.paths]
    doc["auditd"] = auditd

    _users(doc, event, accounts)
    if process:
        doc["process"] = process
    if event.file is not None:
        doc["file"] = event.file
    for key, address in (("source", event.source), ("destination", event.destination)):
        if address:
            doc[key] = address
    if event.direction:
        put(doc, "network.direction", event.direction)
    tags = main.tags or next((r.tags for r in records if r.tags), [])
    if tags:
        doc["tags"] = tags
    node = next((r.node for r in records if r.node), None)
    if node:
        put(doc, "host.name", node)
    doc["message"] = _message(event)
    return doc


def _process(event: _Event) -> Doc:
    data = event.data
    process: Doc = {}
    pid = data.pop("pid", None)
    if pid is not None and pid.isdigit():
        process["pid"] = int(pid)
    ppid = data.pop("ppid", None)
    if ppid is not None and ppid.isdigit():
        process["ppid"] = int(ppid)
        process["parent"] = {"pid": int(ppid)}
    for key, target in (("proctitle", "title"), ("comm", "name"), ("exe", "executable"),
                        ("cwd", "working_directory")):
        value = data.pop(key, None)
        if value:
            process[target] = value
    if event.args:
        process["args"] = event.args
    return process


def _users(doc: Doc, event: _Event, accounts: Accounts) -> None:
    """`user.*` and `group.*` as Auditbeat writes them, with names where the log or tables give them."""
    for key, value in event.ids.items():
        if value == "unset":
            continue
        target = _ID_FIELDS.get(key, f"user.{key}.id")
        put(doc, target, value)
        name = _name_of(event, key, value, accounts)
        if name is not None and name != "unset":
            put(doc, target[:-3] + ".name", name)
    if event.selinux:
        put(doc, "user.selinux", event.selinux)
    gid = event.ids.get("gid")
    if gid is not None and gid != "unset":
        put(doc, "group.id", gid)
        name = _name_of(event, "gid", gid, accounts)
        if name:
            put(doc, "group.name", name)
    for entity in _ENTITIES:
        if entity in event.entities:
            _set_entity(doc, entity, event.entities[entity], accounts)
    user = doc.get("user")
    if isinstance(user, dict):
        effective = user.get("effective")
        if isinstance(effective, dict) and any(
            effective.get(k) and effective.get(k) == user.get(k) for k in ("id", "name")
        ):
            del user["effective"]


def _set_entity(doc: Doc, entity: str, value: str, accounts: Accounts) -> None:
    """An ECS entity from a summary value: a number is an id, anything else a name; unset clears it."""
    parent, _, leaf = entity.rpartition(".")
    holder = doc.get(parent) if parent else doc
    existing = holder.get(leaf) if isinstance(holder, dict) else None
    if isinstance(existing, dict):
        existing.pop("id", None)
        existing.pop("name", None)
        if not existing:
            del holder[leaf]  # type: ignore[union-attr]
    if value in ("", "unset", "4294967295", "-1"):
        return
    if value.isdigit():
        put(doc, f"{entity}.id", value)
        name = accounts.name("gid" if entity == "group" else "uid", value)
        if name:
            put(doc, f"{entity}.name", name)
    else:
        put(doc, f"{entity}.name", value)


def _message(event: _Event) -> str:
    """A one-line human summary: who did what to which object, and how."""
    actor = event.actor_primary if event.actor_primary not in ("", "unset") else event.actor_secondary
    parts = [actor or "?", event.action or event.main.type.lower()]
    target = event.object_primary or event.object_type
    if target:
        parts.append(target)
    if event.how and event.how != target:
        parts.append(f"via {event.how}")
    if event.result != "unknown":
        parts.append(f"({event.result})")
    return " ".join(parts)
