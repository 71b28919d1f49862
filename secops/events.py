"""The event shape every source produces and every store keeps.

An event is an ECS document (nested dicts, `{"source": {"ip": ...}}`) plus the few fields the pipeline
needs to route and deduplicate it. Sources build the document; the pipeline stamps identity and
provenance on it. Keeping this module free of the rest of egovops lets parsers, stores and the detection
engine share it without importing one another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

Doc = dict[str, Any]
"""An ECS document: nested objects keyed by ECS field-name segments."""


class Event:
    """One stored event: its deterministic id, UTC timestamp, dataset and ECS document.

    The document exists as a dict, as JSON text, or both: Python parsers build dicts, the native parsers
    hand over JSON text, and each form is made from the other only when someone asks for it — the
    ingest hot path of a native source never builds a dict at all.
    """

    __slots__ = ("_doc", "_json", "_message", "dataset", "id", "timestamp")

    def __init__(
        self,
        id: str,
        timestamp: str,
        dataset: str,
        doc: Doc | None = None,
        *,
        json: str | None = None,
        message: str | None = None,
    ) -> None:
        if doc is None and json is None:
            raise ValueError("an event needs its document, as a dict or as JSON text")
        self.id = id
        self.timestamp = timestamp
        self.dataset = dataset
        self._doc = doc
        self._json = json
        self._message = message  # given with `json` by the native parsers, else read from the dict

    @property
    def doc(self) -> Doc:
        if self._doc is None:
            self._doc = orjson.loads(self._json)  # type: ignore[arg-type]  # one of the two is set
        return self._doc

    @property
    def json(self) -> str:
        """The document as compact JSON text (what the stores write)."""
        if self._json is None:
            self._json = orjson.dumps(self._doc).decode()
        return self._json

    @property
    def message(self) -> str | None:
        """The free-text `message`, the one field both stores index as text."""
        if self._doc is None:
            return self._message
        message = self._doc.get("message")
        return message if isinstance(message, str) and message else None  # as the native parsers hand it

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, timestamp={self.timestamp!r}, dataset={self.dataset!r})"


@dataclass(slots=True)
class Frame:
    """One record of a stream: a log line, the records of one audit event, one WAF transaction."""

    offset: int
    raw: bytes


@dataclass(slots=True)
class DeadLetter:
    """Input that could not be parsed, kept with where it came from and why."""

    id: str
    source: str
    offset: int
    format: str
    reason: str
    raw: bytes
    received: str = field(default_factory=lambda: format_ts(datetime.now(UTC)))


class Rejected(Exception):  # noqa: N818 - it is an outcome, not a crash
    """Raised by a parser for a frame it cannot turn into an event; the message is the reason."""


# --- field access -------------------------------------------------------------------------------------

_SPLIT_CACHE: dict[str, tuple[str, ...]] = {}


def _parts(path: str) -> tuple[str, ...]:
    parts = _SPLIT_CACHE.get(path)
    if parts is None:
        parts = _SPLIT_CACHE[path] = tuple(path.split("."))
    return parts


def put(doc: Doc, path: str, value: Any) -> None:
    """Set a dotted ECS field (`source.ip`) in a nested document, creating objects on the way."""
    put_parts(doc, _parts(path), value)


def put_parts(doc: Doc, parts: tuple[str, ...], value: Any) -> None:
    """`put` with the path already split (for callers that place the same fields many times)."""
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def get(doc: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Read a dotted ECS field from a nested document (also accepts keys that contain dots)."""
    if path in doc:
        return doc[path]
    node: Any = doc
    for part in _parts(path):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted view of a nested document; lists are kept as values."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


# --- text ---------------------------------------------------------------------------------------------


def decode(raw: bytes) -> str:
    """Decode log bytes: UTF-8, then GBK (logs from Chinese systems), then UTF-8 with replacement.

    Never raises: a log line is evidence and must survive whatever bytes it holds.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


# --- time ---------------------------------------------------------------------------------------------


def format_ts(moment: datetime) -> str:
    """ECS `@timestamp`: UTC, ISO 8601, microseconds, `Z` suffix."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_offset(moment: datetime) -> str | None:
    """The original zone as ECS `event.timezone` wants it (`+08:00`), or None for naive times."""
    offset = moment.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time as logs write it (`+0800`, `+08:00`, `Z`, with or without fraction)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit() and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    return datetime.fromisoformat(value)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def stamp_time(doc: Doc, moment: datetime) -> None:
    """Set `@timestamp` (UTC) and keep the original zone in `event.timezone` when the log had one."""
    doc["@timestamp"] = format_ts(moment)
    zone = format_offset(moment)
    if zone is not None:
        put(doc, "event.timezone", zone)


def known_zone(name: str) -> str:
    """`name` if it is an IANA time zone this machine knows, else ValueError saying what to write."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai") from exc
    return name


def utc_now() -> datetime:
    return datetime.now(UTC)


def days_ago(days: float, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(days=days)


# --- identity -----------------------------------------------------------------------------------------


def event_id(*parts: object) -> str:
    """A deterministic id from the identity of the input and the position of the record in it.

    Same input, same ids: ingesting data twice, or again after a crash, stores every event once.
    """
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(str(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()
