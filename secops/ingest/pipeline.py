"""The ingest pipeline: frames from a source, parsed, stamped with identity and provenance, stored in batches.

Nothing accepted is lost and nothing stored twice: every record gets an id from the identity of its input
and its position, the store keeps an id once, and a record that cannot be parsed — for any reason,
including a parser bug — becomes a dead letter with its input, offset and reason instead of stopping the run.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import socket
import sys
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from secops import sources
from secops.events import DeadLetter, Doc, Event, Frame, Rejected, decode, event_id
from secops.ingest.reader import HEAD_BYTES, Block, Oversize, fingerprint, read_blocks
from secops.sources.base import FileSource, NativeBatch, NativeParser, Source, SourceOptions, Stamp
from secops.store.base import Store, WriteResult

if TYPE_CHECKING:
    from egovops_native import Rows

    from secops.store.sqlite import Row

Progress = Callable[[int], None]
"""Called with the number of bytes consumed since the last call."""
Observer = Callable[[list[Event]], None]
"""Called with each batch once the store has it (detection runs here)."""
_DATASET = itemgetter(2)  # of a native event tuple


class InputError(ValueError):
    """An input cannot be read at all (missing, unreadable, unknown format); the message says which."""


@dataclass(slots=True)
class IngestReport:
    """Counts for one run.

    `accepted`: events newly stored (or durably spooled); `duplicates`: events already stored;
    `rejected`: records dead-lettered in this run; `per_dataset`: events parsed, stored or not.
    """

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    spooled: int = 0
    inputs: int = 0
    bytes: int = 0
    per_dataset: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "spooled": self.spooled,
            "inputs": self.inputs,
            "bytes": self.bytes,
            "per_dataset": dict(sorted(self.per_dataset.items())),
            "errors": self.errors,
        }


@dataclass(slots=True)
class IngestOptions:
    keep_original: bool = True
    batch_size: int = 2000
    observer: str | None = None
    source_options: SourceOptions = field(default_factory=SourceOptions)


@runtime_checkable
class RowStore(Protocol):
    """A store that takes the native parsers' event tuples as they are (SQLite): no `Event` per row.

    `rows_per_write` is the batch it writes best in one transaction; the sink hands it at least that
    many rows (or the configured batch size, if larger) unless the run ends or the follower flushes.
    """

    rows_per_write: int

    def write_rows(self, rows: Sequence[Row]) -> WriteResult: ...

    def write_native(self, batches: Sequence[Rows]) -> WriteResult:
        """Store rows a native parser kept in Rust (`feed_rows`), taking them."""
        ...


@runtime_checkable
class RowsParser(Protocol):
    """A native parser that can keep a block's events in Rust for a `RowStore` (`feed_rows`)."""

    def feed_rows(self, offset: int, data: bytes) -> tuple[Rows, list[tuple[int, str, bytes]]]: ...


class Sink:
    """Batches events and dead letters into a store and keeps the run's counts.

    Events from a native parser stay the tuples it made when the store takes those and nobody watches
    the batches (detection wants `Event`s): the object and the call per event, with the store's duplicate
    query, were a tenth of the ingest's instructions.
    """

    def __init__(
        self, store: Store, batch_size: int, report: IngestReport, observer: Observer | None = None
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.report = report
        self.observer = observer
        self.row_store = store if observer is None and isinstance(store, RowStore) else None
        self.row_batch = max(batch_size, self.row_store.rows_per_write) if self.row_store else batch_size
        self.events: list[Event] = []
        self.rows: list[Row] = []
        self.native: list[Rows] = []
        self.native_count = 0
        self.letters: list[DeadLetter] = []

    def add(self, event: Event) -> None:
        self.events.append(event)
        if len(self.events) >= self.batch_size:
            self.flush()

    def add_rows(self, rows: list[Row]) -> None:
        """Take a native parser's events; the batch may pass its size by one block's events."""
        if self.row_store is None:
            self.events.extend(Event(i, ts, ds, json=text, message=m) for i, ts, ds, text, m in rows)
            if len(self.events) >= self.batch_size:
                self.flush()
        else:
            if self.native:
                self.flush()  # rows are stored in the order they were read
            self.rows.extend(rows)
            if len(self.rows) >= self.row_batch:
                self.flush()

    def add_native(self, rows: Rows) -> None:
        """Take a block's events kept in Rust (only when `row_store` is set: they go to its
        `write_native`); the batch may pass its size by one block's events."""
        if not rows:
            return
        if self.rows:
            self.flush()
        self.native.append(rows)
        self.native_count += len(rows)
        if self.native_count >= self.row_batch:
            self.flush()

    def reject(self, letter: DeadLetter) -> None:
        self.report.rejected += 1
        self.letters.append(letter)
        if len(self.letters) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.letters:
            self.store.reject(self.letters)
            if (metrics := scraped()) is not None:
                for fmt, n in Counter(letter.format for letter in self.letters).items():
                    metrics.count_ingest(_dataset_of(fmt), read=n, rejected=n)
            self.letters = []
        if self.rows and self.row_store is not None:
            self._count(self.row_store.write_rows(self.rows), Counter(map(_DATASET, self.rows)))
            self.rows = []
        if self.native and self.row_store is not None:
            counts: Counter[str] = Counter()
            for rows in self.native:
                counts.update(rows.datasets())  # before the write, which takes the rows
            self._count(self.row_store.write_native(self.native), counts)
            self.native, self.native_count = [], 0
        if self.events:
            self._count(self.store.write(self.events), Counter(event.dataset for event in self.events))
            if self.observer is not None:
                self.observer(self.events)
            self.events = []

    def _count(self, result: WriteResult, counts: Counter[str]) -> None:
        self.report.accepted += result.stored + result.spooled
        self.report.spooled += result.spooled
        self.report.duplicates += result.duplicates
        per_dataset = self.report.per_dataset
        for dataset, n in counts.items():
            per_dataset[dataset] = per_dataset.get(dataset, 0) + n
        if (metrics := scraped()) is None:
            return
        for dataset, n in counts.items():
            metrics.count_ingest(dataset, read=n)
        # Stored and duplicate counts are per batch; a batch is one input's, so nearly always one dataset.
        only = next(iter(counts)) if len(counts) == 1 else "other"
        metrics.count_ingest(only, stored=result.stored + result.spooled, duplicates=result.duplicates)


@functools.cache
def _dataset_of(fmt: str) -> str:
    """The dataset a format's source produces (looked up once: the registry reads entry points)."""
    return sources.source_class(fmt).dataset


def scraped() -> ModuleType | None:
    """`monitors.metrics` when this process serves /metrics (`egovops serve` imports it), else None: a
    one-shot `egovops ingest` has nobody to scrape its counters and does not pay for the import."""
    return sys.modules.get("monitors.metrics")


class Stamper:
    """Adds the pipeline's fields to a parser's documents: id, dataset, original, provenance."""

    def __init__(
        self, source: Source | FileSource, label: str, identity: str, options: IngestOptions
    ) -> None:
        self.format = source.format
        self.dataset = source.dataset
        self.label = label
        self.identity = identity
        self.keep_original = options.keep_original
        self.observer = options.observer or socket.gethostname()
        self.prefix = id_prefix(self.format, identity)
        self.stamp = Stamp(self.prefix, label, self.observer, self.keep_original, self.dataset)

    def event(self, doc: Doc, position: int, index: int, raw: bytes | None) -> Event:
        # The hot path of ingest: plain dict operations only.
        ident = f"{self.prefix}{position:012x}{index:04x}"
        meta = doc.get("event")
        if not isinstance(meta, dict):
            meta = doc["event"] = {}
        meta["id"] = ident
        dataset = meta.setdefault("dataset", self.dataset)
        if self.keep_original and raw is not None and "original" not in meta:
            meta["original"] = decode(raw)
        log = doc.get("log")
        if isinstance(log, dict):
            log["file"] = {"path": self.label}
            log["offset"] = position
        else:
            doc["log"] = {"file": {"path": self.label}, "offset": position}
        observer = doc.get("observer")
        if not isinstance(observer, dict):
            doc["observer"] = {"hostname": self.observer}
        elif "hostname" not in observer:
            observer["hostname"] = self.observer
        timestamp = doc.get("@timestamp")
        if not isinstance(timestamp, str):
            raise Rejected("parser produced no @timestamp")
        return Event(ident, timestamp, dataset, doc)

    def dead_letter(self, position: int, reason: str, raw: bytes) -> DeadLetter:
        ident = event_id("dead", self.format, self.identity, position)
        return DeadLetter(ident, self.label, position, self.format, reason, raw)


def id_prefix(fmt: str, identity: str) -> str:
    """The first half of every event id of one input: a hash of its format and identity.

    The second half is the record's position and its index within the record, in hex, so the ids of one
    input grow with the offset: the store's unique index takes them as appends rather than random
    inserts (measured: half the cost of a random 128-bit hash per row), and they stay deterministic.
    """
    key = f"{fmt}\x1f{identity}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def parse_frame(source: Source, frame: Frame) -> list[Doc]:
    """Parse one frame; any failure, even a parser bug, is a rejection with its reason."""
    try:
        return source.parse(frame)
    except Rejected:
        raise
    except Exception as exc:
        raise Rejected(f"parser error: {type(exc).__name__}: {exc}") from exc


def process_frames(
    source: Source, frames: Iterable[Frame], stamper: Stamper, sink: Sink
) -> None:
    for frame in frames:
        try:
            docs = parse_frame(source, frame)
            events = [stamper.event(doc, frame.offset, i, frame.raw) for i, doc in enumerate(docs)]
        except Rejected as exc:
            sink.reject(stamper.dead_letter(frame.offset, str(exc) or "rejected", frame.raw))
            continue
        for event in events:
            sink.add(event)


class RecordReader(ABC):
    """Turns the blocks of one text input into stored events.

    One per input (and per restart of a truncated file): readers hold open multi-line records between
    blocks, and `pending_offset` says where to resume when one is open.
    """

    def __init__(self, stamper: Stamper) -> None:
        self.stamper = stamper

    @abstractmethod
    def feed(self, offset: int, data: bytes, sink: Sink) -> None:
        """Take a block of whole lines starting at `offset`."""

    @abstractmethod
    def finish(self, sink: Sink) -> None:
        """End of input, or a long pause while following: store what is still open."""

    @abstractmethod
    def pending_offset(self) -> int | None: ...


class FramedReader(RecordReader):
    """Framed and parsed in Python, frame by frame."""

    def __init__(self, source: Source, stamper: Stamper) -> None:
        super().__init__(stamper)
        self.source = source
        self.framer = source.framer()

    def feed(self, offset: int, data: bytes, sink: Sink) -> None:
        process_frames(self.source, self.framer.feed(offset, data), self.stamper, sink)

    def finish(self, sink: Sink) -> None:
        process_frames(self.source, self.framer.finish(), self.stamper, sink)

    def pending_offset(self) -> int | None:
        return self.framer.pending_offset()


class NativeReader(RecordReader):
    """Framed, parsed and stamped in Rust: events arrive as JSON text that the store writes as it is."""

    def __init__(self, stamper: Stamper, parser: NativeParser) -> None:
        super().__init__(stamper)
        self.parser = parser
        self.rows_parser = parser if isinstance(parser, RowsParser) else None

    def feed(self, offset: int, data: bytes, sink: Sink) -> None:
        if self.rows_parser is not None and sink.row_store is not None:
            rows, letters = self.rows_parser.feed_rows(offset, data)
            sink.add_native(rows)
            self._reject(letters, sink)
        else:
            self._deliver(self.parser.feed(offset, data), sink)

    def finish(self, sink: Sink) -> None:
        self._deliver(self.parser.finish(), sink)

    def pending_offset(self) -> int | None:
        return self.parser.pending_offset()

    def _deliver(self, batch: NativeBatch, sink: Sink) -> None:
        events, letters = batch
        if events:
            sink.add_rows(events)
        self._reject(letters, sink)

    def _reject(self, letters: list[tuple[int, str, bytes]], sink: Sink) -> None:
        for offset, reason, raw in letters:
            sink.reject(self.stamper.dead_letter(offset, reason, raw))


def record_reader(source: Source, stamper: Stamper) -> RecordReader:
    """The fastest reader the source offers for one input."""
    parser = source.native_parser(stamper.stamp)
    return FramedReader(source, stamper) if parser is None else NativeReader(stamper, parser)


def read_records(
    reader: RecordReader, blocks: Iterable[Block | Oversize], sink: Sink, progress: Progress | None = None
) -> None:
    """Feed blocks of lines to a reader; over-long lines are dead-lettered here, no parser could take them."""
    for block in blocks:
        if isinstance(block, Oversize):
            reason = f"line of {block.length} bytes exceeds the limit"
            sink.reject(reader.stamper.dead_letter(block.offset, reason, block.head))
            size = block.length
        else:
            reader.feed(block.offset, block.data, sink)
            size = len(block.data)
        sink.report.bytes += size
        if progress is not None:
            progress(size)


class Ingestor:
    """Ingests files, directories and stdin into one store; used by `egovops ingest` and the follower."""

    def __init__(
        self, store: Store, options: IngestOptions | None = None, observer: Observer | None = None
    ) -> None:
        self.store = store
        self.options = options or IngestOptions()
        self.observer = observer

    def source_for(self, head: bytes, label: str, fmt: str | None) -> Source | FileSource:
        name = fmt or sources.detect(head)
        if name is None:
            raise InputError(
                f"{label}: cannot tell the log format from its first bytes; "
                f"pass --format ({', '.join(sources.formats())})"
            )
        try:
            return sources.create(name, self.options.source_options)
        except sources.UnknownFormat as exc:
            raise InputError(str(exc)) from exc

    def run(
        self, paths: Iterable[Path | str], fmt: str | None = None, progress: Progress | None = None
    ) -> IngestReport:
        report = IngestReport()
        sink = Sink(self.store, self.options.batch_size, report, self.observer)
        for path in expand(paths):
            try:
                self.ingest_one(path, fmt, sink, progress)
            except InputError as exc:
                report.errors.append(str(exc))
        sink.flush()
        self.store.flush()
        return report

    def ingest_one(self, path: Path | str, fmt: str | None, sink: Sink, progress: Progress | None) -> None:
        if str(path) == "-":
            self.ingest_stream(sys.stdin.buffer, "-", fmt, sink, progress)
            return
        path = Path(path)
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot open: {exc.strerror}") from exc
        with stream:
            head = stream.read(HEAD_BYTES)
            stream.seek(0)
            source = self.source_for(head, str(path), fmt)
            sink.report.inputs += 1
            if isinstance(source, FileSource):
                self.ingest_file_source(source, path, head, sink)
                if progress:
                    progress(path.stat().st_size)
                return
            source.bind(path)
            self.ingest_text(source, stream, str(path), sink, progress)

    def ingest_stream(
        self, stream: BinaryIO, label: str, fmt: str | None, sink: Sink, progress: Progress | None
    ) -> None:
        reader = stream if hasattr(stream, "peek") else os.fdopen(stream.fileno(), "rb")
        head = reader.peek(HEAD_BYTES)[:HEAD_BYTES]
        source = self.source_for(head, label, fmt)
        if isinstance(source, FileSource):
            raise InputError(f"{label}: {source.format} input must be a file, not a stream")
        sink.report.inputs += 1
        self.ingest_text(source, reader, label, sink, progress)

    def ingest_text(
        self, source: Source, stream: BinaryIO, label: str, sink: Sink, progress: Progress | None
    ) -> None:
        blocks = read_blocks(stream)
        first = next(blocks, None)
        if first is None:
            return
        reader = record_reader(source, Stamper(source, label, fingerprint(first.first_line()), self.options))
        read_records(reader, itertools.chain([first], blocks), sink, progress)
        reader.finish(sink)

    def ingest_file_source(self, source: FileSource, path: Path, head: bytes, sink: Sink) -> None:
        stamper = Stamper(source, str(path), fingerprint(head[:1024]), self.options)
        sink.report.bytes += path.stat().st_size
        try:
            for item in source.read_path(path):
                if len(item) == 3:
                    position, reason, raw = item
                    sink.reject(stamper.dead_letter(position, str(reason), raw))
                    continue
                position, docs = item
                for index, doc in enumerate(docs):
                    try:
                        sink.add(stamper.event(doc, position, index, None))
                    except Rejected as exc:
                        sink.reject(stamper.dead_letter(position, str(exc), b""))
        except Rejected as exc:
            sink.reject(stamper.dead_letter(0, str(exc), head[:4096]))


def expand(paths: Iterable[Path | str]) -> Iterator[Path | str]:
    """Files as given; directories walked in name order (hidden files and directories skipped)."""
    for item in paths:
        if str(item) == "-":
            yield item
            continue
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(p.startswith(".") for p in child.relative_to(path).parts):
                    yield child
        else:
            yield path
