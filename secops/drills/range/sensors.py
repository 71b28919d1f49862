"""The range's network sensor: tshark on a segment's bridge writing rotating pcaps, so each finished file
stops growing and egovops' follower ingests it (the `pcap` source) while the drill runs."""

from __future__ import annotations

from pathlib import Path

from secops.drills.range.description import Capture


def capture_argv(capture: Capture, bridge: str, directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        str(capture.tshark), "-i", bridge, "-q", "-n", "-F", "pcap",
        "-w", str(directory / f"{capture.segment}.pcap"),
        "-b", f"duration:{capture.rotate_seconds}", "-b", f"filesize:{capture.rotate_kilobytes}",
    ]  # fmt: skip


def capture_ready(log: Path) -> bool:
    return log.exists() and "Capturing on" in log.read_text(errors="replace")
