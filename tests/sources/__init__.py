"""Helpers the source tests share: reading a whole text log through a source, as the pipeline frames it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from secops.events import Doc, Frame
from secops.sources.base import Source


def parse_text_log(source: Source, path: Path) -> Iterator[Doc]:
    """Every document `source` reads from the text log at `path`, in file order (rejects raise)."""
    framer = source.framer()
    frames: list[Frame] = []
    offset = 0
    with path.open("rb") as stream:
        for line in stream:
            frames.extend(framer.push(offset, line.rstrip(b"\r\n")))
            offset += len(line)
    frames.extend(framer.finish())
    for frame in frames:
        yield from source.parse(frame)
