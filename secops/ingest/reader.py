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


BLOCK_BYTES = 1 << 20


@dataclass(slots=True)
class Block:
    """Whole lines read in one go: `data` starts at byte `offset` of the input and ends with a newline."""

    offset: int
    data: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    def first_line(self) -> bytes:
        return self.data[: self.data.find(b"\n")].rstrip(b"\r")


@dataclass(slots=True)
class Oversize:
    """A line longer than MAX_LINE: where it starts, its first bytes and its full length."""

    offset: int
    head: bytes
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length

    def first_line(self) -> bytes:
        return self.head


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


def read_blocks(
    stream: BinaryIO, offset: int = 0, *, partial_last: bool = True, size: int = BLOCK_BYTES
) -> Iterator[Block | Oversize]:
    """Blocks of whole lines from the stream's current position (`offset` names that position).

    Reading in blocks and cutting lines with `bytes.split` costs a fraction of reading line by line.
    With `partial_last=False` (following a file being written) a last line without its newline is left
    for the next call; otherwise it is returned as if it had one. Lines of any length are read: those
    over MAX_LINE come back as `Oversize` and are skipped to their end.
    """
    carry = b""
    while chunk := stream.read(size):
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield Block(offset, data[:cut])
            offset += cut
            carry = data[cut:]
        else:
            carry = data
        if len(carry) > MAX_LINE:
            head, length = carry[:65536], len(carry)
            while (chunk := stream.read(size)) and (end := chunk.find(b"\n")) < 0:
                length += len(chunk)
            if chunk:
                length += end + 1
                carry = chunk[end + 1 :]
            else:
                carry = b""
            yield Oversize(offset, head, length)
            offset += length
    if carry and partial_last:
        yield Block(offset, carry + b"\n")
