"""Follow mode: tail files and directories across rotation and truncation, resuming from checkpoints.

A followed file is known by its inode and the fingerprint of its first line. When the path starts naming
another inode (rotation), the old file is read to its end before the new one is opened; when a file
shrinks below the read position (copytruncate), it is read again from the start. The position saved after
each batch is where reading resumes after a restart; records already stored before a crash are read again
and recognised by their ids.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from secops.ingest.pipeline import (
    Ingestor,
    IngestReport,
    InputError,
    RecordReader,
    Sink,
    Stamper,
    read_records,
    record_reader,
    scraped,
)
from secops.ingest.reader import HEAD_BYTES, Block, Oversize, read_blocks, read_fingerprint
from secops.sources.base import FileSource, Source
from secops.store.base import Checkpoint


@dataclass
class Tailed:
    """One open file being followed."""

    path: Path
    stream: BinaryIO
    inode: int
    identity: str
    offset: int
    source: Source
    reader: RecordReader
    last_data: float = field(default_factory=time.monotonic)

    def resume_offset(self) -> int:
        pending = self.reader.pending_offset()
        return self.offset if pending is None else min(pending, self.offset)


class Follower:
    def __init__(
        self,
        ingestor: Ingestor,
        targets: Iterable[Path],
        fmt: str | None = None,
        *,
        poll_interval: float = 0.5,
        idle_flush: float = 2.0,
    ) -> None:
        self.ingestor = ingestor
        self.store = ingestor.store
        self.targets = [Path(t) for t in targets]
        self.fmt = fmt
        self.poll_interval = poll_interval
        self.idle_flush = idle_flush
        self.report = IngestReport()
        self.sink = Sink(self.store, ingestor.options.batch_size, self.report, ingestor.observer)
        self.tailed: dict[Path, Tailed] = {}
        self.problems: dict[Path, str] = {}

    # -- discovery -------------------------------------------------------------------------------------

    def paths(self) -> list[Path]:
        found: list[Path] = []
        for target in self.targets:
            if target.is_dir():
                found.extend(
                    p for p in sorted(target.iterdir()) if p.is_file() and not p.name.startswith(".")
                )
            elif target.exists():
                found.append(target)
        return found

    # -- one round -------------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Read whatever is new in every followed file; returns the number of bytes read."""
        read = 0
        for path in self.paths():
            try:
                read += self._poll_path(path)
                self.problems.pop(path, None)
            except InputError as exc:
                self.problems[path] = str(exc)
        for path in [p for p in self.tailed if not p.exists()]:
            read += self._drain(self.tailed[path])
        self.sink.flush()
        self._save_checkpoints()
        self.store.flush()
        if (metrics := scraped()) is not None:
            metrics.mark_poll()
            for dataset, unread in self.unread_bytes().items():
                metrics.set_follow_lag(dataset, unread)
        return read

    def unread_bytes(self) -> dict[str, int]:
        """Bytes already in the followed files beyond what was read, per dataset: what the follower is
        behind by when writers outpace it (a last line still being written counts too)."""
        behind: dict[str, int] = {}
        for tailed in self.tailed.values():
            size = os.fstat(tailed.stream.fileno()).st_size
            dataset = tailed.source.dataset
            behind[dataset] = behind.get(dataset, 0) + max(0, size - tailed.offset)
        return behind

    def _poll_path(self, path: Path) -> int:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return 0
        tailed = self.tailed.get(path)
        if tailed is not None and tailed.inode != stat.st_ino:
            read = self._drain(tailed)
            return read + self._poll_path(path)
        if tailed is None:
            opened = self._open(path, stat)
            if opened is None:
                return 0
            tailed = opened
        if stat.st_size < tailed.offset:
            self._restart(tailed)
        return self._read(tailed)

    def _open(self, path: Path, stat: os.stat_result) -> Tailed | None:
        with path.open("rb") as probe:
            head = probe.read(HEAD_BYTES)
        if not head:
            return None
        source = self.ingestor.source_for(head, str(path), self.fmt)
        if isinstance(source, FileSource):
            self._whole_file(path, stat)
            return None
        source.bind(path)
        stream = path.open("rb")
        identity = read_fingerprint(stream)
        if identity is None:
            stream.close()
            return None
        checkpoint = self.store.checkpoint(str(path))
        offset = checkpoint.offset if checkpoint and checkpoint.fingerprint == identity else 0
        if offset > stat.st_size:
            offset = 0
        tailed = Tailed(
            path, stream, stat.st_ino, identity, offset, source,
            record_reader(source, Stamper(source, str(path), identity, self.ingestor.options)),
        )
        self.tailed[path] = tailed
        self.report.inputs += 1
        return tailed

    def _whole_file(self, path: Path, stat: os.stat_result) -> None:
        """Binary inputs (captures) are read once, after they have stopped growing."""
        if time.time() - stat.st_mtime < self.idle_flush:
            return
        done = self.store.checkpoint(str(path))
        if done and done.inode == stat.st_ino and done.offset == stat.st_size:
            return
        self.ingestor.ingest_one(path, self.fmt, self.sink, None)
        self.sink.flush()
        self.store.save_checkpoint(str(path), Checkpoint("whole-file", stat.st_ino, stat.st_size))

    def _restart(self, tailed: Tailed) -> None:
        """The file was truncated in place: read it again from the start, as a new input."""
        self._flush_reader(tailed)
        tailed.stream.seek(0)
        tailed.offset = 0
        identity = read_fingerprint(tailed.stream) or tailed.identity
        tailed.identity = identity
        tailed.reader = record_reader(
            tailed.source, Stamper(tailed.source, str(tailed.path), identity, self.ingestor.options)
        )

    def _read(self, tailed: Tailed) -> int:
        start = tailed.offset
        tailed.stream.seek(start)

        def complete_lines() -> Iterator[Block | Oversize]:
            # A last line still being written is left for the next round.
            for block in read_blocks(tailed.stream, start, partial_last=False):
                tailed.offset = block.end
                yield block

        read_records(tailed.reader, complete_lines(), self.sink)
        read = tailed.offset - start
        now = time.monotonic()
        if read:
            tailed.last_data = now
        elif now - tailed.last_data >= self.idle_flush:
            self._flush_reader(tailed)
        return read

    def _flush_reader(self, tailed: Tailed) -> None:
        tailed.reader.finish(self.sink)

    def _drain(self, tailed: Tailed) -> int:
        """Read a file that was rotated away (or deleted) to its end, then let it go."""
        read = self._read(tailed)
        self._flush_reader(tailed)
        tailed.stream.close()
        del self.tailed[tailed.path]
        return read

    def _save_checkpoints(self) -> None:
        for tailed in self.tailed.values():
            self.store.save_checkpoint(
                str(tailed.path), Checkpoint(tailed.identity, tailed.inode, tailed.resume_offset())
            )

    # -- loop ------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.poll_once():
                stop.wait(self.poll_interval)
        self.close()

    def close(self) -> None:
        for tailed in list(self.tailed.values()):
            tailed.stream.close()
        self.tailed.clear()
