"""Coalesce the records of one audit event into one ECS document, the way Auditbeat does.

An event is a SYSCALL with its PATH, CWD, EXECVE, SOCKADDR and PROCTITLE records, or a single
user-space record (USER_LOGIN, CRED_ACQ, ...). It is summarised as actor / action / object / how (the
model of go-libaudit's `aucoalesce`; the mapping is data in `normalizations.yaml`) and written with
Auditbeat's auditd field layout: `auditd.summary.*`, `auditd.data.*`, `auditd.paths`, `process.*`,
`user.*`, `file.*`, `source.*`/`destination.*`, `event.action` and `event.outcome`.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from secops.events import Doc, Rejected, format_ts, put, put_parts
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

    summary_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(summary attribute, candidate fields) for the parts this entry names fields for."""


def _normalization(entry: Mapping[str, Any]) -> Normalization:
    actor = entry.get("actor") or {}
    obj = entry.get("object") or {}
    ecs = entry.get("ecs") or {}
    summary_fields = tuple((attr, tuple(keys)) for attr, keys in (
        ("actor_primary", actor.get("primary")), ("actor_secondary", actor.get("secondary")),
        ("object_primary", obj.get("primary")), ("object_secondary", obj.get("secondary")),
        ("how", entry.get("how"))) if keys)
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
        summary_fields=summary_fields,
    )


@dataclass(frozen=True, slots=True)
class Normalizations:
    by_syscall: dict[str, Normalization]
    by_record_type: dict[str, list[Normalization]]
    categories: list[tuple[str, int, int]]

    @classmethod
    def load(cls, path: Path) -> Normalizations:
        import yaml  # only here: importing it costs more than the rest of this package

        document = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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


@cache
def normalizations() -> Normalizations:
    """The normalisation data, read on first use so that importing the source (auto-detection) stays cheap."""
    return Normalizations.load(Path(__file__).with_name("normalizations.yaml"))


@lru_cache(maxsize=1024)
def _category(record_type: str) -> str:
    return normalizations().category(record_type)


@dataclass(frozen=True, slots=True)
class Accounts:
    """Optional id → name tables (from the audited host's passwd and group files)."""

    users: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)

    def name(self, key: str, value: str) -> str | None:
        table = self.groups if key.endswith("gid") else self.users
        return table.get(value)


_NO_ACCOUNTS = Accounts()


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
_EPOCH_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_OUTCOMES = {"success": "success", "fail": "failure"}


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the fields of an event's main record go, for one sequence of field names (a log has few)."""

    ids: tuple[str, ...]
    """User and group ids (`*uid`, `*gid`), for `user.*`."""
    selinux: tuple[str, ...]
    """`subj_*`, for `user.selinux.*`."""
    own: tuple[str, ...]
    """`result` and `ses`, which the event keeps apart."""
    users: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...]
    """Per id: its name, its place under `user` and that of its name, its enriched-log name (`EUID`)."""


@lru_cache(maxsize=512)
def _layout(keys: tuple[str, ...]) -> _Layout:
    ids = tuple(key for key in keys if key.endswith(("uid", "gid")) and key not in ("result", "ses"))
    users = []
    for key in ids:
        parts = tuple(_ID_FIELDS.get(key, f"user.{key}.id").split(".")[1:])
        users.append((key, parts, (*parts[:-1], "name"), key.upper()))
    return _Layout(ids, tuple(key for key in keys if key.startswith("subj_") and key not in ids),
                   tuple(key for key in keys if key in ("result", "ses")), tuple(users))


class _Event:
    """The event being coalesced: the summary parts and the fields sorted by where they end up."""

    __slots__ = ("action", "actor_primary", "actor_secondary", "args", "category", "data", "destination",
                 "direction", "entities", "file", "how", "ids", "kind", "layout", "main", "names",
                 "object_primary", "object_secondary", "object_type", "paths", "result", "selinux", "session",
                 "source", "type")

    def __init__(self, main: Record, layout: _Layout) -> None:
        self.main = main
        self.layout = layout
        self.data: dict[str, str] = {}
        self.result = "unknown"
        self.session: str | None = None
        self.actor_primary = ""
        self.actor_secondary = ""
        self.action: str | None = None
        self.object_type: str | None = None
        self.object_primary = ""
        self.object_secondary = ""
        self.how = ""
        self.ids: dict[str, str] = {}
        self.names: Mapping[str, str] = {}
        self.selinux: dict[str, str] = {}
        self.paths: list[Record] = []
        self.args: list[str] = []
        self.file: Doc | None = None
        self.source: Doc | None = None
        self.destination: Doc | None = None
        self.direction: str | None = None
        self.kind: str | None = None
        self.category: list[str] = []
        self.type: list[str] = []
        self.entities: dict[str, str] = {}
        """ECS entity → the summary value mapped to it (`user` → `1000`)."""


def _new_event(main: Record, syscall: Record | None) -> _Event:
    source = syscall or main
    fields = source.data
    layout = _layout(tuple(fields))
    event = _Event(main, layout)
    result = fields.get("result")
    if result is not None:
        event.result = result
    event.session = fields.get("ses")
    event.actor_primary = fields.get("auid", "")
    event.actor_secondary = fields.get("uid", "")
    data = event.data = dict(fields)
    pop = data.pop
    event.ids = {key: pop(key) for key in layout.ids}
    if layout.selinux:
        event.selinux = {key[5:]: pop(key) for key in layout.selinux}
    for key in layout.own:
        del data[key]
    if source.names:
        event.names = dict(source.names)
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
    syscall = None
    for record in records:
        if record.type == "SYSCALL":
            syscall = record
            break
    main = records[0]
    event = _new_event(main, syscall)
    data = event.data
    for record in records:
        typ = record.type
        if record is syscall:
            data.pop("items", None)
        elif typ == "PATH":
            event.paths.append(record)
        elif typ == "SOCKADDR":
            _add_sockaddr(record, event)
        elif typ == "EXECVE":
            _add_execve(record, event)
        elif syscall is not None or record is not main:
            data.update({key: value for key, value in record.data.items() if key not in data})
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


def _normalize(event: _Event, norms: Normalizations) -> None:
    """Apply the matching normalisation: action, object, actor, how and ECS categorisation."""
    data = event.data
    how = how_default(data)
    if how is not None:
        event.how = how
    syscall_norm = None
    syscall = data.get("syscall")
    if syscall is not None:
        syscall_norm = norms.by_syscall.get(syscall) or norms.by_syscall.get("*")
    norm = None
    if event.main.type == "SYSCALL":
        norm = syscall_norm
    else:
        for candidate in norms.by_record_type.get(event.main.type, ()):
            if all(f in data for f in candidate.has_fields):
                norm = candidate
    if norm is None:
        return
    event.kind = norm.kind
    if syscall_norm is not None and syscall_norm is not norm:
        event.category = [*norm.category, *syscall_norm.category]
        event.type = [*norm.type, *syscall_norm.type]
    else:
        event.category = list(norm.category)
        event.type = list(norm.type)
    event.action = norm.action
    event.object_type = norm.object_type
    if norm.object_type in ("file", "filesystem"):
        _set_file_object(event, norm.path_index)
    elif norm.object_type == "socket":
        _set_socket_object(event)
    data_get = data.get
    ids_get = event.ids.get
    for attr, keys in norm.summary_fields:  # the first field the event has, in its data or else its ids
        for key in keys:
            found = data_get(key)
            if found is None:
                found = ids_get(key)
            if found is not None:
                setattr(event, attr, found)
                break
    if event.source is None:
        for key in norm.source_ip:
            ip = data.pop(key, None)
            if ip is not None:
                event.source = {"ip": ip}
                event.direction = "ingress"
                break
    if norm.mappings:
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
    _normalize(event, normalizations())
    return _document(event, records, accounts or _NO_ACCOUNTS)


# --- the ECS document ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """`@timestamp` up to the second (`2023-11-14T22:13:20`): a log has many records per second."""
    return format_ts(_EPOCH_TIME + timedelta(seconds=seconds))[:19]


def _document(event: _Event, records: list[Record], accounts: Accounts) -> Doc:
    main = event.main
    ecs_event: Doc = {"kind": event.kind or "event", "outcome": _OUTCOMES.get(event.result, "unknown")}
    if event.category:
        ecs_event["category"] = event.category
        ecs_event["type"] = event.type
    if event.action:
        ecs_event["action"] = event.action
    doc: Doc = {"@timestamp": f"{_second(main.seconds)}.{main.millis:03d}000Z", "event": ecs_event}

    auditd: Doc = {"message_type": main.type.lower(), "sequence": main.sequence, "result": event.result,
                   "category": _category(main.type)}
    if event.session is not None and event.session != "unset":
        auditd["session"] = event.session
    summary: Doc = {}
    if event.actor_primary:
        summary["actor"] = {"primary": event.actor_primary}
        if event.actor_secondary:
            summary["actor"]["secondary"] = event.actor_secondary
    elif event.actor_secondary:
        summary["actor"] = {"secondary": event.actor_secondary}
    obj: Doc = {"type": event.object_type} if event.object_type else {}
    if event.object_primary:
        obj["primary"] = event.object_primary
    if event.object_secondary:
        obj["secondary"] = event.object_secondary
    if obj:
        summary["object"] = obj
    if event.how:
        summary["how"] = event.how
    auditd["summary"] = summary
    process = _process(event)
    data: Doc = event.data
    if "socket_" in " ".join(data):  # rare: only then is a loop needed to nest `socket.*`
        data = {}
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
    if event.source:
        doc["source"] = event.source
    if event.destination:
        doc["destination"] = event.destination
    if event.direction:
        put(doc, "network.direction", event.direction)
    tags = main.tags
    node = main.node
    if len(records) > 1:
        if not tags:
            tags = next((r.tags for r in records if r.tags), tags)
        if not node:
            node = next((r.node for r in records if r.node), None)
    if tags:
        doc["tags"] = tags
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
    names = event.names
    named = bool(names or accounts.users or accounts.groups)
    ids = event.ids
    user: Doc = {}
    for key, parts, name_parts, upper in event.layout.users:
        value = ids[key]
        if value == "unset":
            continue
        if len(parts) == 2:  # the usual `user.<x>.id`; no id path runs through another's leaf
            node = user.get(parts[0])
            if node is None:
                user[parts[0]] = {parts[1]: value}
            else:
                node[parts[1]] = value
        elif len(parts) == 1:
            user[parts[0]] = value
        else:
            put_parts(user, parts, value)
        if named:
            name = names.get(upper) or accounts.name(key, value)
            if name is not None and name != "unset":
                put_parts(user, name_parts, name)
    if event.selinux:
        user["selinux"] = event.selinux
    if user:
        doc["user"] = user
    gid = ids.get("gid")
    if gid is not None and gid != "unset":
        name = (names.get("GID") or accounts.name("gid", gid)) if named else None
        doc["group"] = {"id": gid, "name": name} if name else {"id": gid}
    if event.entities:
        for entity in _ENTITIES:
            if entity in event.entities:
                _set_entity(doc, entity, event.entities[entity], accounts)
        found = doc.get("user")
        if not isinstance(found, dict):
            return
        user = found
    effective = user.get("effective")
    if isinstance(effective, dict) and (
        (effective.get("id") and effective.get("id") == user.get("id"))
        or (effective.get("name") and effective.get("name") == user.get("name"))
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
