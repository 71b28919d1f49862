"""A source's own cost: read, frame and parse a file as the pipeline does, with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from secops.events import Frame, Rejected
from secops.ingest.reader import Block, read_blocks
from secops.sources.base import Source


def parse_file(source: Source, path: Path) -> tuple[int, int]:
    """(events, rejected): rejected frames are what the pipeline would dead-letter."""
    framer = source.framer()

    def frames() -> Iterator[Frame]:
        with path.open("rb") as stream:
            for block in read_blocks(stream):
                if isinstance(block, Block):
                    yield from framer.feed(block.offset, block.data)
        yield from framer.finish()

    events = rejected = 0
    for frame in frames():
        try:
            events += len(source.parse(frame))
        except Rejected:
            rejected += 1
    return events, rejected
