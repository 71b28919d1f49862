"""ModSecurity audit logs: native Serial, Concurrent (index + one file per transaction) and JSON.

One transaction, one event. The serial format spreads a transaction over many lines between
`--<boundary>-A--` and `--<boundary>-Z--`, so a `Framer` holds lines until Z; a JSON record or a
Concurrent index line is a frame by itself. The Concurrent index only names a file under
`SecAuditLogStorageDir`: that file is read and parsed as whatever it holds (serial or JSON).

Where the storage dir is: the `storage_dir` argument, else the directory of the index file, which the
pipeline tells the source before reading it (`bind`). Paths in the index are relative to it (they start
with `/`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import egovops_native
import orjson

from secops.events import Doc, Frame, Rejected, decode
from secops.sources.base import Framer, NativeParser, Source, SourceOptions, Stamp
from secops.sources.modsecurity_json import parse_json
from secops.sources.modsecurity_model import (
    Transaction,
    apply_content_length,
    apply_request_line,
    count,
    headers_from_lines,
    parse_log_time,
    parse_message,
    port,
    to_doc,
)

_BOUNDARY = re.compile(rb"--([0-9A-Za-z]+)-([A-Z])--\s*")
_EDGE_LINE = re.compile(rb"--([0-9A-Za-z]+)-([AZ])--[ \t\r\f\v]*(?=\n)")  # an A or Z line ...
_EDGE = re.compile(b"\n" + _EDGE_LINE.pattern)  # ... after a newline: a literal prefix, scanned fast
_SECTION = re.compile(r"\n--([0-9A-Za-z]+)-([A-Z])--[ \t\r]*(?=\n|$)")
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_INDEX = re.compile(
    rf"^\S+ \S+ \S+ \S+ \[[^\]]+\] {_QUOTED} (?:\d+|-) \S+ {_QUOTED} {_QUOTED} (\S+) {_QUOTED} "
    r"(/\S*) (\d+) (\d+) (?:md5:[0-9a-fA-F]{32}|-)\s*$"
)
_INDEX_HINT = re.compile(rb'^\S+ \S+ \S+ \S+ \[[^\]]+\] ".*" /\S* \d+ \d+ (?:md5:[0-9a-fA-F]{32}|-)\s*$')
MAX_TRANSACTION_FILE = 64 * 1024 * 1024


class AuditFramer(Framer):
    """One frame per serial transaction (A..Z); JSON records and index lines are frames of one line.

    A transaction cut short (a new A before Z, or the input ends) is still framed, so the parser can
    reject it with its reason and the pipeline can dead-letter it; nothing is silently dropped.
    """

    def __init__(self) -> None:
        self._lines: list[bytes] = []
        self._start: int | None = None
        self._boundary = b""

    def push(self, offset: int, line: bytes) -> list[Frame]:
        if self._start is not None and line[:1] != b"-":
            self._lines.append(line)
            return []
        return self._edge(offset, line)

    def feed(self, offset: int, data: bytes) -> list[Frame]:
        """Cut a block at the lines that open (A) and close (Z) transactions; what lies between is sliced.

        A serial transaction is a hundred lines or more of which only those two matter for framing, so
        one regex scan of the block for them and one slice per transaction replace a hundred calls of
        `push` (which frames the same way, line by line; a property test holds the two to the same frames).
        """
        done: list[Frame] = []
        crlf = b"\r" in data
        begin = 0  # where the text not yet framed or given to the open transaction starts
        for start, end, boundary, letter in _edges(data):
            if self._start is not None:
                if letter == b"Z":
                    if boundary == self._boundary:
                        self._lines.append(_lines(data[begin:end], crlf))
                        done.append(self._take())
                        begin = end + 1
                    continue  # another transaction's Z is content of this one
                if start > begin:
                    self._lines.append(_lines(data[begin : start - 1], crlf))
                done.append(self._take())
            elif letter == b"Z":
                continue  # a stray Z is framed as a line of its own, below
            elif start > begin:
                done.extend(super().feed(offset + begin, data[begin:start]))
            self._start, self._boundary, self._lines = offset + start, boundary, []
            begin = start  # the A line is the first line of the transaction's slice
        if begin < len(data):
            if self._start is not None:
                self._lines.append(_lines(data[begin:-1], crlf))
            else:
                done.extend(super().feed(offset + begin, data[begin:]))
        return done

    def _edge(self, offset: int, line: bytes) -> list[Frame]:
        if self._start is not None:
            if line[:2] == b"--" and (found := _BOUNDARY.fullmatch(line)):
                if found.group(2) == b"Z" and found.group(1) == self._boundary:
                    self._lines.append(line)
                    return [self._take()]
                if found.group(2) == b"A":
                    cut = self._take()
                    self._open(offset, line, found.group(1))
                    return [cut]
            self._lines.append(line)
            return []
        if not line.strip():
            return []
        if line[:2] == b"--" and (found := _BOUNDARY.fullmatch(line)) and found.group(2) == b"A":
            self._open(offset, line, found.group(1))
            return []
        return [Frame(offset, line)]

    def finish(self) -> list[Frame]:
        return [self._take()] if self._start is not None else []

    def pending_offset(self) -> int | None:
        return self._start

    def _open(self, offset: int, line: bytes, boundary: bytes) -> None:
        self._start = offset
        self._boundary = boundary
        self._lines = [line]

    def _take(self) -> Frame:
        assert self._start is not None
        frame = Frame(self._start, b"\n".join(self._lines))  # lines, or runs of lines sliced by `feed`
        self._start = None
        self._lines = []
        return frame


def _edges(data: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(start, end, boundary, letter) of each A or Z line of a block of whole lines (`end`: its newline)."""
    if first := _EDGE_LINE.match(data):
        yield 0, first.end(), first.group(1), first.group(2)
    for edge in _EDGE.finditer(data):
        yield edge.start() + 1, edge.end(), edge.group(1), edge.group(2)


def _lines(chunk: bytes, crlf: bool) -> bytes:
    """Whole lines cut from a block, last newline excluded, each without its CR (as `push` gets them)."""
    return chunk.replace(b"\r\n", b"\n").removesuffix(b"\r") if crlf else chunk


def parse_serial(text: str) -> Transaction:
    """One native serial transaction (sections A..Z) → Transaction.

    One regex split cuts the whole text into sections; each section's text keeps the newline that
    ends its boundary line (so it is empty, or a newline and then its lines) and only the sections
    egovops reads are looked at further.
    """
    parts = _SECTION.split("\n" + text)  # the leading newline lets the first boundary match
    # parts: [text before the first boundary, boundary, letter, section text, boundary, letter, ...]
    if parts[0] or parts[2] != "A":
        raise Rejected("serial transaction does not start with an A section boundary")
    boundaries = parts[1::3]
    boundary = boundaries[0]
    if boundaries.count(boundary) != len(boundaries):
        stray = next(b for b in boundaries if b != boundary)
        raise Rejected(f"section boundary {stray!r} inside transaction {boundary!r}")
    if parts[-2] != "Z":
        raise Rejected(f"transaction {boundary} has no Z section (cut short or input ended)")
    # A letter seen twice: the first section counts (built backwards, so the first is written last).
    sections = dict(zip(reversed(parts[2::3]), reversed(parts[3::3]), strict=True))
    tx = _section_a(sections["A"].strip())
    request = sections.get("B")
    if request:
        lines = request[1:].rstrip("\n").split("\n")
        apply_request_line(tx, lines[0].rstrip("\r"))
        tx.request_headers = headers_from_lines(lines[1:])
    body = sections.get("C") or sections.get("I")
    if body is not None:
        body = body[1:].rstrip("\n")
        tx.request_body_bytes = len(body) if body.isascii() else len(body.encode())
    apply_content_length(tx)
    response = sections.get("F")
    if response:
        lines = response[1:].rstrip("\n").split("\n")
        status = lines[0].split(" ", 2)
        if len(status) >= 2:
            tx.status = count(status[1])
        tx.response_headers = headers_from_lines(lines[1:])
    trailer = sections.get("H")
    if trailer:
        _section_h(tx, trailer)
    return tx


def _section_a(line: str) -> Transaction:
    """`[22/Nov/2026:03:01:57.780932 +0000] <unique id> <client ip> <port> <server ip> <port>`."""
    close = line.find("]")
    if not line.startswith("[") or close < 0:
        raise Rejected(f"A section without a [time]: {line[:80]!r}")
    fields = line[close + 1 :].split()
    if not fields:
        raise Rejected("A section without a unique id")
    tx = Transaction(parse_log_time(line[1:close]), fields[0])
    if len(fields) >= 5:
        tx.client_ip, tx.client_port = fields[1], port(fields[2])
        tx.server_ip, tx.server_port = fields[3], port(fields[4])
    return tx


def _section_h(tx: Transaction, trailer: str) -> None:
    """Every `Message:` line, the last `Engine-Mode:` and `Producer:`, and `Action: Intercepted`.

    Found by string search, not line by line: most of a trailer is long lines egovops skips
    (`Apache-Error:` repeats every message), and the rest sits at its end.
    """
    tx.rules = [parse_message(part.partition("\n")[0]) for part in trailer.split("\nMessage: ")[1:]]
    engine = trailer.rfind("\nEngine-Mode: ")
    if engine >= 0:
        tx.engine_mode = _line_at(trailer, engine + 14).strip().strip('"')
    producer = trailer.rfind("\nProducer: ")
    if producer >= 0:
        tx.producer = _line_at(trailer, producer + 11).strip()
    tx.intercepted = trailer.rfind("\nAction: Intercepted") >= 0


def _line_at(text: str, start: int) -> str:
    """From `start` to the end of its line."""
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


class ModSecurityAudit(Source):
    """ModSecurity 2.9 / libmodsecurity 3 audit logs → one ECS event per WAF transaction."""

    format: ClassVar[str] = "modsecurity"
    dataset: ClassVar[str] = "modsecurity.audit"
    description: ClassVar[str] = "ModSecurity audit log (native Serial, Concurrent index, JSON)"

    def __init__(
        self, options: SourceOptions | None = None, *, storage_dir: Path | str | None = None
    ) -> None:
        super().__init__(options)
        self.storage_dir: Path | None = Path(storage_dir) if storage_dir else None
        self._zone = ZoneInfo(self.options.timezone)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        start = head.lstrip()
        if start.startswith(b'{"transaction"'):
            return True
        first = start.split(b"\n", 1)[0].rstrip(b"\r")
        boundary = _BOUNDARY.fullmatch(first)
        if boundary is not None:
            return boundary.group(2) == b"A"
        return _INDEX_HINT.match(first) is not None

    def bind(self, path: Path) -> None:
        """The input about to be read: a Concurrent index resolves transaction files beside it."""
        if self.storage_dir is None:
            self.storage_dir = path.parent

    def framer(self) -> Framer:
        return AuditFramer()

    def native_parser(self, stamp: Stamp) -> NativeParser | None:
        """The Rust port of serial and JSON reading (native/src/modsecurity), held to `framer` + `parse`
        by a differential test. What it does not read itself (Concurrent index lines, records it would
        reject or that are unusual) it hands back to `parse`, so those keep the reference's documents
        and dead-letter reasons."""
        parser: NativeParser = egovops_native.ModSecurityParser(
            id_prefix=stamp.id_prefix, label=stamp.label, observer=stamp.observer,
            keep_original=stamp.keep_original, dataset=stamp.dataset, timezone=self.options.timezone,
            reference=self.reference_documents,
        )
        return parser

    def reference_documents(self, raw: bytes) -> list[str]:
        """`parse` of one frame as JSON texts, failing as ingest fails it (`parse_frame`)."""
        from secops.ingest.pipeline import parse_frame  # the pipeline imports the sources

        return [orjson.dumps(doc).decode() for doc in parse_frame(self, Frame(0, raw))]

    def parse(self, frame: Frame) -> list[Doc]:
        raw = frame.raw
        if raw[:1] == b"{":
            return [to_doc(parse_json(raw, self._zone))]
        if raw[:2] == b"--":
            return [to_doc(parse_serial(decode(raw)))]
        line = decode(raw)
        index = _INDEX.match(line)
        if index is None:
            raise Rejected("neither a serial transaction, a JSON record nor a Concurrent index line")
        return self._from_index(index)

    def _from_index(self, index: re.Match[str]) -> list[Doc]:
        relative, offset, size = index.group(2), int(index.group(3)), int(index.group(4))
        if self.storage_dir is None:
            raise Rejected(
                f"Concurrent index names {relative} but the storage dir is unknown "
                "(read the index from a file, or configure the storage dir)"
            )
        path = self.storage_dir / relative.lstrip("/")
        if ".." in Path(relative).parts:
            raise Rejected(f"index path {relative!r} leaves the storage dir")
        if size > MAX_TRANSACTION_FILE:
            raise Rejected(f"transaction file {path} is {size} bytes, over the {MAX_TRANSACTION_FILE} limit")
        try:
            with path.open("rb") as stream:
                stream.seek(offset)
                data = stream.read(size) if size else stream.read(MAX_TRANSACTION_FILE)
        except OSError as exc:
            raise Rejected(f"transaction file {path} unreadable: {exc.strerror}") from exc
        docs = self._parse_file(data, path)
        for doc in docs:
            doc["modsecurity"]["audit_file"] = str(path)
        return docs

    def _parse_file(self, data: bytes, path: Path) -> list[Doc]:
        framer = AuditFramer()
        frames = framer.feed(0, data if data.endswith(b"\n") else data + b"\n") + framer.finish()
        docs = [doc for frame in frames if frame.raw[:1] in (b"{", b"-") for doc in self.parse(frame)]
        if not docs:
            raise Rejected(f"transaction file {path} holds no transaction")
        return docs
