"""Reading inputs as lines with byte offsets, and naming an input by its content.

An input's identity is a fingerprint of its first line, not its path: a rotated file keeps its identity
under its new name, a copy of a file has the same one, and a truncated file gets a new one. Event ids
are derived from that identity and a record's offset, so re-reading anything stores nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_LINE = 4 * 1024 * 1024
"""Longest line kept whole; longer ones are dead-lettered with their head (lines of any length are read)."""
FINGERPRINT_BYTES = 4096
HEAD_BYTES = 8192


@dataclass(slots=True)
class Line:
    offset: int
    data: bytes
    """Without the line ending."""
    end: int
    """Offset just past the line ending: where the next line starts."""
    too_long: int = 0
    """When the line exceeded MAX_LINE: its full length (data holds only its head)."""


def fingerprint(first_line: bytes) -> str:
    """Identity of an input from its first line (capped), as stored in checkpoints and event ids."""
    return hashlib.blake2b(first_line[:FINGERPRINT_BYTES], digest_size=12).hexdigest()


def read_fingerprint(stream: BinaryIO) -> str | None:
    """Fingerprint of a seekable stream's first complete line; None while it has no complete line."""
    position = stream.tell()
    stream.seek(0)
    head = stream.readline(FINGERPRINT_BYTES)
    stream.seek(position)
    if not head or (not head.endswith(b"\n") and len(head) < FINGERPRINT_BYTES):
        return None
    return fingerprint(head.rstrip(b"\r\n"))


def strip_eol(data: bytes) -> bytes:
    if data.endswith(b"\n"):
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    return data


def read_lines(stream: BinaryIO, offset: int = 0, *, partial_last: bool = True) -> Iterator[Line]:
    """Lines from the stream's current position (`offset` names that position).

    With `partial_last=False` (following a file being written) a final line without its newline is not
    returned, so it is read whole once the writer finishes it; the caller resumes at the returned offset.
    """
    readline = stream.readline
    while True:
        data = readline(MAX_LINE)
        if not data:
            return
        if len(data) == MAX_LINE and not data.endswith(b"\n"):
            head = data
            length = len(data)
            while True:
                more = readline(MAX_LINE)
                length += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield Line(offset, strip_eol(head[:65536]), offset + length, too_long=length)
            offset += length
            continue
        if not partial_last and not data.endswith(b"\n"):
            return
        yield Line(offset, strip_eol(data), offset + len(data))
        offset += len(data)
