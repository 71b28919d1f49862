"""The interface every log source implements.

A source knows one format and nothing else: how to recognise it (`sniff`), how to cut a byte stream into
records (`framer`) and how to turn one record into ECS documents (`parse`). Reading files, following them,
assigning ids, dead-lettering and storing belong to the pipeline, so a new source never touches those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from secops.events import Doc, Frame, Rejected

__all__ = [
    "FileSource", "Format", "Framer", "NativeBatch", "NativeParser", "Parsed", "Rejected", "Source",
    "SourceOptions", "Stamp",
]


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Facts a log line may leave out, supplied by configuration.

    `timezone` is an IANA zone for timestamps written without an offset (syslog RFC 3164, auditd is
    epoch so unaffected); `year` completes RFC 3164 timestamps, which have none (None: the current year,
    stepping back one when the date would lie in the future).
    """

    timezone: str = "Asia/Shanghai"
    year: int | None = None


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the pipeline stamps on every document of one input (see `secops.ingest.pipeline.Stamper`).

    Native parsers stamp in Rust and are given these values: ids are `id_prefix` followed by the
    record's offset (12 hex digits) and the document's index in the record (4 hex digits).
    """

    id_prefix: str
    label: str
    observer: str
    keep_original: bool
    dataset: str


NativeBatch = tuple[list[tuple[str, str, str, str, str | None]], list[tuple[int, str, bytes]]]
"""Events `(id, @timestamp, dataset, document JSON, message)` and dead letters `(offset, reason, raw)`."""


class NativeParser(Protocol):
    """A Rust parser of one input (the `egovops_native` module): frames, parses and stamps blocks."""

    def feed(self, offset: int, data: bytes) -> NativeBatch: ...
    def finish(self) -> NativeBatch: ...
    def pending_offset(self) -> int | None: ...


class Framer:
    """Cuts a stream of lines into frames. The default: one non-blank line, one frame.

    Multi-line formats (audit events, WAF transactions) subclass it and hold lines until a record is
    complete. `pending_offset` tells the follower where to resume if it stops while a record is open.
    """

    def push(self, offset: int, line: bytes) -> list[Frame]:
        """Take one line (without its newline) that starts at `offset`; return the frames it completes."""
        if not line.strip():
            return []
        return [Frame(offset, line)]

    def feed(self, offset: int, data: bytes) -> list[Frame]:
        """Frames completed by a block of whole lines (`data` starts at `offset`, ends with a newline).

        The pipeline reads in blocks; this cuts a block into lines (a trailing CR removed) and pushes each.
        Framers of long multi-line records may override it to find record boundaries in the block itself.
        """
        frames: list[Frame] = []
        push = self.push
        for line in data.split(b"\n")[:-1]:
            start = offset
            offset += len(line) + 1
            if line[-1:] == b"\r":
                line = line[:-1]  # noqa: PLW2901 - the line without its CR is the line
            if completed := push(start, line):
                frames.extend(completed)
        return frames

    def finish(self) -> list[Frame]:
        """End of input (or a long pause while following): return whatever is still open."""
        return []

    def pending_offset(self) -> int | None:
        """Offset of the first line of the oldest open record, or None when nothing is open."""
        return None



class Format(ABC):
    """What every source is: a named format, recognisable from its first bytes, producing one dataset."""

    format: ClassVar[str]
    """Short name used on the command line (`--format suricata`)."""
    dataset: ClassVar[str]
    """ECS `event.dataset` of what it produces (a parser may set another, e.g. `suricata.stats`)."""
    description: ClassVar[str] = ""

    def __init__(self, options: SourceOptions | None = None) -> None:
        self.options = options or SourceOptions()

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes) -> bool:
        """True when the first bytes of an input look like this format (used by auto-detection)."""


class Source(Format):
    """A text log format: framed from lines, parsed frame by frame."""

    def bind(self, path: Path) -> None:
        """Told which file is about to be read; formats whose records name other files resolve them here."""

    def framer(self) -> Framer:
        return Framer()

    def native_parser(self, stamp: Stamp) -> NativeParser | None:
        """A native parser for one input, when the format has one; it replaces `framer` and `parse`."""
        return None

    @abstractmethod
    def parse(self, frame: Frame) -> list[Doc]:
        """ECS documents for one frame (usually one). Raise `Rejected(reason)` for input it cannot read.

        A document carries `@timestamp`, `event.kind/category/type` and whatever fields the format has;
        the pipeline adds `event.id`, `event.dataset` (when absent), `event.original`, `log.*` and
        `observer.*`.
        """


Parsed = tuple[int, list[Doc]]
"""What a file source yields: the position of a record in its input and its documents."""


class FileSource(Format):
    """A binary format read whole from a path (packet captures), not line by line."""

    @abstractmethod
    def read_path(self, path: Path) -> Iterator[Parsed | tuple[int, Rejected, bytes]]:
        """Yield `(position, docs)` per record, or `(position, Rejected(reason), raw)` for a bad one."""
