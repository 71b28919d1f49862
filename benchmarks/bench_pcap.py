"""Packets per second of the pcap source (pyshark over tshark) next to plain `tshark -T fields`.

The capture is built in a temporary directory from the Ethernet captures of suricata-verify, repeated with
the second octet of every address shifted per copy (so each copy makes new flows) and times moved on.
Checksums are left stale; tshark does not verify them by default. The issue's figure is per core, with
tshark and Python sharing it, so the benchmark pins itself (and the tshark it starts) to one core:

    .venv/bin/python benchmarks/bench_pcap.py [--packets 200000] [--core 1] [--baselines]

Each line gives wall-clock packets/s and CPU packets/s (packets over the CPU seconds of Python and of
tshark together, from `process_time` and `getrusage(RUSAGE_CHILDREN)`), with the CPU split: on a shared
machine the wall clock also counts other people's work on the core, the CPU time does not. The
calibration loop (benchmarks/calibration.py) is timed before and after: compare runs whose calibration
times are close. `--baselines` also times pyshark's own modes (default, `use_json`, `use_ek`) and the EK
field reader without batching, on a 20,000-packet slice: they are slow enough that the full capture would
take minutes.
"""

from __future__ import annotations

import argparse
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyshark
from pyshark.tshark.output_parser.tshark_ek import TsharkEkJsonParser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from secops.sources.pcap import FIELDS, PREFERENCES, PcapSource

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
ETHERNET = 1
Record = tuple[float, bytes]


def read_pcap(path: Path) -> Iterator[Record]:
    """(time, frame) of a classic Ethernet pcap; anything else yields nothing."""
    data = path.read_bytes()
    magic = data[:4]
    order = {
        b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
        b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">",
    }
    if magic not in order:
        return
    endian = order[magic]
    scale = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    if struct.unpack(endian + "I", data[20:24])[0] != ETHERNET:
        return
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        frame = data[offset + 16 : offset + 16 + incl]
        if len(frame) < incl:
            return
        yield sec + frac / scale, frame
        offset += 16 + incl


def shifted(frame: bytes, copy: int) -> bytes:
    """The frame with the second byte of both IP addresses moved by `copy` (VLAN tags skipped)."""
    out = bytearray(frame)
    at = 12
    while at + 2 <= len(out) and bytes(out[at : at + 2]) in (b"\x81\x00", b"\x88\xa8"):
        at += 4
    kind, ip = bytes(out[at : at + 2]), at + 2
    spots = (ip + 13, ip + 17) if kind == b"\x08\x00" else (ip + 9, ip + 25) if kind == b"\x86\xdd" else ()
    for spot in spots:
        if spot < len(out):
            out[spot] = (out[spot] + copy) % 256
    return bytes(out)


def build(target: Path, packets: int) -> int:
    """Write a capture of at least `packets` frames; return how many."""
    base = [r for p in sorted((CORPORA / "suricata-verify").rglob("*.pcap")) for r in read_pcap(p)]
    if not base:
        raise SystemExit(f"no Ethernet pcaps under {CORPORA / 'suricata-verify'}")
    written = 0
    with target.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, ETHERNET))
        copy = 0
        while written < packets:
            copy += 1
            for moment, frame in base:
                stamp = moment + copy * 3600.0
                sec = int(stamp)
                out.write(struct.pack("<IIII", sec, int((stamp - sec) * 1e6), len(frame), len(frame)))
                out.write(shifted(frame, copy))
                written += 1
    return written


@dataclass(frozen=True)
class Run:
    """One timed run: wall seconds and the CPU seconds of this process and of the children it waited for."""

    label: str
    packets: int
    wall: float
    python: float
    tshark: float
    produced: int

    def line(self) -> str:
        cpu = self.python + self.tshark
        share = 100 * self.tshark / cpu if cpu else 0.0
        rate = self.packets / self.wall
        return (
            f"{self.label:<44} {self.packets:>7} pkts {self.wall:7.2f} s {rate:>6.0f} pkt/s"
            f" | CPU {cpu:6.2f} s {self.packets / cpu:>6.0f} pkt/CPU-s: tshark {self.tshark:6.2f} s"
            f" ({share:2.0f}%), Python {self.python:6.2f} s  ({self.produced} out)"
        )


def timed(label: str, packets: int, run: Callable[[], int]) -> Run:
    """Run and print one measurement; tshark's CPU time counts once it has been waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    python, start = time.process_time(), time.perf_counter()
    produced = run()
    wall, python = time.perf_counter() - start, time.process_time() - python
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tshark = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    result = Run(label, packets, wall, python, tshark, produced)
    print(result.line(), flush=True)
    return result


def source_events(path: Path) -> int:
    count = 0
    for item in PcapSource().read_path(path):
        if len(item) == 2:
            count += len(item[1])
    return count


def tshark_alone(path: Path, output: str, *options: str) -> int:
    """tshark over the source's fields, its output thrown away: the ceiling of this path."""
    args = ["tshark", "-n", "-r", str(path), "-T", output, *(a for f in FIELDS for a in ("-e", f)), *options]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


def pyshark_mode(path: Path, **options: object) -> int:
    count = 0
    with pyshark.FileCapture(str(path), keep_packets=False, **options) as capture:
        for _ in capture:
            count += 1
    return count


def ek_fields_unbatched(path: Path) -> int:
    """pyshark's EK reader over the same `-e` fields, one event-loop turn per packet (its own parser)."""
    class Parser(TsharkEkJsonParser):  # type: ignore[misc]
        def _parse_single_packet(self, packet: bytes) -> object:
            return orjson.loads(packet)

    class Capture(pyshark.FileCapture):  # type: ignore[misc]
        def _setup_tshark_output_parser(self) -> Parser:
            return Parser()

    count = 0
    params = [a for f in FIELDS for a in ("-e", f)]
    with Capture(str(path), keep_packets=False, use_ek=True, custom_parameters=params) as capture:
        for _ in capture:
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--core", type=int, default=1, help="CPU to pin to (default 1, as `taskset -c 1`)")
    parser.add_argument("--baselines", action="store_true")
    args = parser.parse_args()
    allowed = os.sched_getaffinity(0)
    core = args.core if args.core in allowed else min(allowed)
    os.sched_setaffinity(0, {core})
    with tempfile.TemporaryDirectory(prefix="bench-pcap-") as tmp:
        big = Path(tmp) / "big.pcap"
        total = build(big, args.packets)
        print(f"capture: {total} packets, {big.stat().st_size / 1e6:.1f} MB; pinned to CPU {core}")
        print(f"calibration loop: {calibrate():.3f} s")
        fields = timed("tshark -T fields (same fields)", total, lambda: tshark_alone(big, "fields"))
        prefs = [a for name, value in PREFERENCES.items() for a in ("-o", f"{name}:{value}")]
        timed("tshark -T ek, as the source runs it", total, lambda: tshark_alone(big, "ek", *prefs))
        source = timed("PcapSource.read_path (pyshark EK, batched)", total, lambda: source_events(big))
        print(f"calibration loop: {calibrate():.3f} s")
        print(
            f"end to end: {total / source.wall:.0f} packets/s wall, "
            f"{total / (source.python + source.tshark):.0f} packets/CPU-s "
            f"(tshark -T fields alone: {total / fields.wall:.0f} packets/s wall, "
            f"{total / fields.tshark:.0f} packets/CPU-s); CPU split of the source: "
            f"tshark {source.tshark:.2f} s, Python {source.python:.2f} s"
        )
        if args.baselines:
            part = Path(tmp) / "part.pcap"
            build(part, 20_000)
            small = sum(1 for _ in read_pcap(part))
            timed("pyshark EK -e fields, per-packet loop only", small, lambda: ek_fields_unbatched(part))
            timed("pyshark use_ek=True (all fields, objects)", small, lambda: pyshark_mode(part, use_ek=True))
            timed("pyshark use_json=True (objects)", small, lambda: pyshark_mode(part, use_json=True))
            timed("pyshark default (PDML, objects)", small, lambda: pyshark_mode(part))


if __name__ == "__main__":
    main()
