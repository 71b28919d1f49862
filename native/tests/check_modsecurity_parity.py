"""Differential check: the native ModSecurity parser (`egovops_native.ModSecurityParser`) against Python.

The reference is what ingest ran before: `AuditFramer` frames the lines, `ModSecurityAudit.parse` reads each
frame (failures become dead letters through `parse_frame`) and the pipeline's `Stamper` stamps each document.
The native parser reads serial and JSON frames itself and hands the rest (Concurrent index lines, frames it
would reject or finds unusual) back to the reference; this check also counts how many frames it read itself,
so a parser that deferred everything would show. Compared: the events in order (id, @timestamp, dataset,
the document as a dict, message), the dead letters (offset, reason, raw bytes) and `pending_offset` after
every block, with the input fed whole, line by line and in random line counts; and `normalise` against
`parse` on every frame. Inputs: tests/data/modsecurity (serial, JSON 2.9, libmodsecurity 3, a Concurrent
index and its transaction files), the ModSecurity logs of the shared corpora (read in place), a log from
benchmarks/bench_modsecurity.py `build_log`, and seeded mutations of all of these (truncations, dropped
sections and lines, CRLF, GBK and invalid bytes, odd characters, JSON fields of every type).

    cd native && CARGO_TARGET_DIR=target-modsec cargo build --release --no-default-features \\
        --features modsecurity
    mkdir -p /tmp/native-modsec && cp target-modsec/release/libegovops_native.so \\
        /tmp/native-modsec/egovops_native.abi3.so
    PYTHONPATH=/tmp/native-modsec .venv/bin/python native/tests/check_modsecurity_parity.py [--speed]

Exit status 0 when every comparison is equal.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_modsecurity import TEMPLATE, build_log  # noqa: E402
from benchmarks.calibration import calibrate  # noqa: E402
from secops.events import Doc, Frame, Rejected  # noqa: E402
from secops.ingest.pipeline import IngestOptions, Stamper, parse_frame  # noqa: E402
from secops.sources.base import SourceOptions  # noqa: E402
from secops.sources.modsecurity import AuditFramer, ModSecurityAudit  # noqa: E402

DATA = ROOT / "tests" / "data" / "modsecurity"
CORPORA = ROOT.parent / "shared" / "corpora"
LABEL = "modsec_audit.log"
OPTIONS = IngestOptions(observer="parity-host", keep_original=True)
SHOWN_DIFFS = 5
ODD_TEXT = [
    '"', "\\", "[", "]", " ", "\r", "\t", "-", ":", "\x1c", "\xa0", "\u3000", "7", "Z", "A", "?", ";", "中",
]
ODD_VALUES: list[Any] = [
    None, 0, 1, -1, 80, 70000, 2**64, True, False, 1.5, 1.1, 2.0, 1e16, "", " 80 ", "x", "1_0", "٨٠",
    "2", " 2 ", "9", "critical", "CRITICAL", "²", [], {}, ["a", 1], {"a": "b"}, "paranoia-level/3",
]
TIMES = [
    "Sun Nov 22 11:06:35 2026", "sun nov 22 11:06:35 2026", "Sun Nov  2 11:06:35 2026",
    "Sun Feb 30 11:06:35 2026", "Sun Mar  8 02:30:00 2026", "Sun Nov  1 01:30:00 2026",
    "Sun Mar 08 02:30:00 2026", "Sun Nov 01 01:30:00 2026", "Mon Jan 01 00:00:00 0999",
    "Fri Dec 31 23:59:59 9999", "Sun Nov 22 11:06:60 2026", "22/Nov/2026:03:06:34 +0000",
    "22/Nov/2026:03:06:34.810217 +0800", "22/Nov/2026:03:06:34.8 -0530", "01/Jan/0001:00:00:00 +0100",
    "31/Dec/9999:23:59:59 -0100", "22/Nov/2026:03:06:34 +2359", "22/Nov/2026:03:06:34 +2400",
    "22/Foo/2026:03:06:34 +0000", "29/Feb/2024:03:06:34 +0000", "29/Feb/2023:03:06:34 +0000",
    "22/Nov/2026:3:6:4 +0000", " 22/Nov/2026:03:06:34 +0000 ",
]

Event = tuple[str, str, str, Doc, str | None]
Letter = tuple[int, str, bytes]
Blocks = list[tuple[int, bytes]]


@dataclass
class Run:
    """What one side produced for one input."""

    events: list[Event] = field(default_factory=list)
    letters: list[Letter] = field(default_factory=list)
    pending: list[int | None] = field(default_factory=list)


@dataclass
class Tally:
    """Counts for one group of inputs, with the first differences found."""

    inputs: int = 0
    frames: int = 0
    native: int = 0
    compared: int = 0
    equal: int = 0
    diffs: list[str] = field(default_factory=list)

    def check(self, what: str, ours: object, theirs: object) -> None:
        self.compared += 1
        if ours == theirs:
            self.equal += 1
        elif len(self.diffs) < SHOWN_DIFFS:
            self.diffs.append(f"{what}: {describe(theirs, ours)}")


def describe(want: object, got: object, path: str = "") -> str:
    """The field paths where two values differ (reference first, native second)."""
    if isinstance(want, dict) and isinstance(got, dict):
        keys = sorted(set(want) | set(got), key=str)
        parts = [describe(want.get(k), got.get(k), f"{path}.{k}" if path else str(k))
                 for k in keys if want.get(k) != got.get(k)]
        return "; ".join(parts)
    if isinstance(want, list | tuple) and isinstance(got, list | tuple) and len(want) == len(got):
        pairs = enumerate(zip(want, got, strict=True))
        return "; ".join(describe(a, b, f"{path}[{i}]") for i, (a, b) in pairs if a != b)
    return f"{path or 'value'}: python={want!r:.300} native={got!r:.300}"


@dataclass
class Setting:
    """How the source is configured for a group of inputs."""

    timezone: str = "Asia/Shanghai"
    storage_dir: Path | None = None

    def source(self) -> ModSecurityAudit:
        return ModSecurityAudit(SourceOptions(timezone=self.timezone), storage_dir=self.storage_dir)


def reference(blocks: Blocks, setting: Setting) -> tuple[Run, list[Frame]]:
    """Frame, parse and stamp as ingest does (`process_frames`, with the blocks' pending offsets)."""
    source, framer, run = setting.source(), AuditFramer(), Run()
    stamp = Stamper(source, LABEL, "parity-identity", OPTIONS)
    frames: list[Frame] = []
    for offset, data in blocks:
        frames += framer.feed(offset, data)
        run.pending.append(framer.pending_offset())
    frames += framer.finish()
    for frame in frames:
        try:
            docs = parse_frame(source, frame)
            events = [stamp.event(doc, frame.offset, i, frame.raw) for i, doc in enumerate(docs)]
        except Rejected as exc:
            run.letters.append((frame.offset, str(exc) or "rejected", frame.raw))
            continue
        run.events += [(e.id, e.timestamp, e.dataset, e.doc, e.doc.get("message") or None) for e in events]
    return run, frames


def native_parser(setting: Setting) -> Any:
    source = setting.source()
    parser = source.native_parser(Stamper(source, LABEL, "parity-identity", OPTIONS).stamp)
    assert parser is not None, "egovops_native has no ModSecurityParser: build it (see the docstring)"
    return parser


def native(blocks: Blocks, setting: Setting) -> Run:
    parser, run = native_parser(setting), Run()

    def take(batch: tuple[list[Any], list[Letter]]) -> None:
        events, letters = batch
        run.events += [(i, ts, ds, json.loads(doc), msg) for i, ts, ds, doc, msg in events]
        run.letters += letters

    for offset, data in blocks:
        take(parser.feed(offset, data))
        run.pending.append(parser.pending_offset())
    take(parser.finish())
    return run


def blockings(data: bytes, rng: random.Random) -> Iterator[tuple[str, Blocks]]:
    """The same input as one block, line by line, and in blocks of random line counts."""
    lines = [line + b"\n" for line in data.removesuffix(b"\n").split(b"\n")]

    def grouped(sizes: Iterator[int]) -> Blocks:
        blocks, offset, i = [], 0, 0
        while i < len(lines):
            count = next(sizes)
            chunk = b"".join(lines[i : i + count])
            blocks.append((offset, chunk))
            offset += len(chunk)
            i += count
        return blocks

    yield "whole", grouped(iter(lambda: len(lines), None))
    yield "lines", grouped(iter(lambda: 1, None))
    yield "random", grouped(iter(lambda: rng.randint(1, 40), None))


def compare(
    tally: Tally, name: str, data: bytes, setting: Setting, rng: random.Random, all_blockings: bool
) -> None:
    tally.inputs += 1
    for how, blocks in blockings(data, rng):
        want, frames = reference(blocks, setting)
        got = native(blocks, setting)
        tally.check(f"{name} [{how}] events", got.events, want.events)
        tally.check(f"{name} [{how}] dead letters", got.letters, want.letters)
        tally.check(f"{name} [{how}] pending offsets", got.pending, want.pending)
        if how == "whole":
            check_normalise(tally, name, frames, setting)
        if not all_blockings:
            break


def check_normalise(tally: Tally, name: str, frames: list[Frame], setting: Setting) -> None:
    """`normalise` against `parse` on every frame; also counts the frames read natively."""
    source, parser = setting.source(), native_parser(setting)
    for frame in frames:
        tally.frames += 1
        tally.native += parser.reads_natively(frame.raw)
        try:
            want: object = parse_frame(source, frame)
        except Rejected as exc:
            want = ("rejected", str(exc) or "rejected")
        try:
            got: object = [json.loads(doc) for doc in parser.normalise(frame.raw)]
        except ValueError as exc:
            got = ("rejected", str(exc))
        tally.check(f"{name} normalise @{frame.offset}", got, want)


# --- inputs -----------------------------------------------------------------------------------------------


def transactions(data: bytes) -> list[bytes]:
    """The serial transactions of a log, each from its A line (with its newline)."""
    frames = AuditFramer().feed(0, data if data.endswith(b"\n") else data + b"\n")
    return [frame.raw + b"\n" for frame in frames if frame.raw.startswith(b"--")]


def mutate_serial(tx: bytes, rng: random.Random) -> bytes:
    """One seeded damage or oddity of a serial transaction."""
    lines = tx.split(b"\n")
    kind = rng.randrange(9)
    if kind == 0:  # cut short at a random byte
        return tx[: rng.randrange(len(tx))] + b"\n"
    if kind == 1:  # a section dropped
        starts = [i for i, line in enumerate(lines) if line.startswith(b"--") and line.endswith(b"--")]
        if len(starts) > 1:
            i = rng.randrange(len(starts) - 1)
            del lines[starts[i] : starts[i + 1]]
    elif kind == 2:  # lines dropped or repeated
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            if rng.random() < 0.5:
                del lines[i]
            else:
                lines.insert(i, lines[i])
    elif kind == 3:  # CRLF, or a stray CR
        return tx.replace(b"\n", b"\r\n") if rng.random() < 0.7 else tx.replace(b"\n", b"\r\n", 3)
    elif kind == 4:  # GBK or invalid bytes in a line
        i = rng.randrange(len(lines))
        insert = rng.choice(["政务服务".encode("gbk"), b"\xff\xfe", "é".encode(), b"\x81", b"\xa2\xab"])
        at = rng.randint(0, len(lines[i]))
        lines[i] = lines[i][:at] + insert + lines[i][at:]
    elif kind == 5:  # odd characters
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(lines))
            at = rng.randint(0, len(lines[i]))
            lines[i] = lines[i][:at] + rng.choice(ODD_TEXT).encode() + lines[i][at + rng.randint(0, 2) :]
    elif kind == 6:  # another A-line time or port
        for i, line in enumerate(lines):
            if line.startswith(b"["):
                fields = line.split(b"] ", 1)[-1].split(b" ")
                stamp = rng.choice(TIMES)
                if rng.random() < 0.5 and len(fields) > 2:
                    fields[rng.choice([2, 4]) % len(fields)] = str(rng.choice(ODD_VALUES)).encode()
                lines[i] = b"[" + stamp.encode() + b"] " + b" ".join(fields)
                break
    elif kind == 7:  # odd headers
        for i, line in enumerate(lines):
            if line.startswith((b"Host:", b"Content-Length:", b"User-Agent:", b"Content-Type:")):
                name, _, value = line.partition(b":")
                choice = rng.randrange(4)
                if choice == 0:
                    lines[i] = b" " + name.lower() + "\u3000".encode() + b":" + value
                elif choice == 1:
                    lines[i] = name + b": " + str(rng.choice(ODD_VALUES)).encode()
                elif choice == 2:
                    lines[i] = name + b":" + b"[::1]:8080"
                else:
                    lines[i] = name.upper() + b":" + value + b"; charset=x \x1f"
    else:  # odd message metadata
        for i, line in enumerate(lines):
            if line.startswith(b"Message: ") and rng.random() < 0.5:
                piece = rng.choice([
                    b' [ref "o1"]', b' [severity "%s"]' % str(rng.choice(ODD_VALUES)).encode(),
                    b' [line "x"]', b' [tag "paranoia-level/%s"]' % rng.choice([b"2", b"x", b"\xd9\xa3"]),
                    b' [msg "Inbound Anomaly Score Exceeded (Total Score: 12)"]',
                    b' [msg "Outbound Anomaly Score Exceeded (score 7\xd9\xa3)"]', b' [data "a\\"b\\\\"]',
                    b" [file", b'"]', b"\\", b' [line "99999999999999999999"]',
                ])
                at = rng.choice([len(line), rng.randint(0, len(line))])
                lines[i] = line[:at] + piece + line[at:]
    return b"\n".join(lines)


def json_records() -> list[dict[str, Any]]:
    records = []
    for path in (DATA / "json-2.9.log", DATA / "libmodsecurity3.json"):
        records += [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return records


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            yield (*prefix, i)
            yield from paths_of(item, (*prefix, i))


def mutate_json(record: dict[str, Any], rng: random.Random) -> bytes:
    """A JSON record with a field removed or given a value of another type; some lines broken outright."""
    if rng.random() < 0.05:
        text = json.dumps(record, ensure_ascii=False).encode()
        return text[: rng.randrange(len(text))]
    out = copy.deepcopy(record)
    for _ in range(rng.randint(1, 3)):
        paths = list(paths_of(out))
        if not paths:
            break
        path = rng.choice(paths)
        parent = out
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if rng.random() < 0.2:
            del parent[key]
        elif key in ("time", "time_stamp"):
            parent[key] = rng.choice(TIMES)
        else:
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    if rng.random() < 0.1 and isinstance(out.get("transaction"), dict):
        out["transaction"]["request"] = {"headers": {"HOST": "a", "host": "[::1]", "Content-Length": "12"}}
    try:
        return json.dumps(out, ensure_ascii=rng.random() < 0.5).encode()
    except ValueError:
        return b"{}"


def inputs(rng: random.Random, mutations: int, workdir: Path) -> Iterator[tuple[str, str, bytes, Setting]]:
    """(group, name, bytes, setting) of every input."""
    for path in sorted(DATA.glob("*.log")) + sorted(DATA.glob("*.json")):
        yield "tests/data", path.name, path.read_bytes(), Setting()
    concurrent = DATA / "concurrent"
    yield "tests/data", "concurrent/index.log", (concurrent / "index.log").read_bytes(), Setting(
        storage_dir=concurrent / "audit")
    for path in sorted((concurrent / "audit").rglob("*-*")):
        if path.is_file():
            yield "tests/data", path.name, path.read_bytes(), Setting()
    for path in sorted(CORPORA.rglob("*modsecurity*")):
        if path.is_file() and path.suffix in (".log", ".json"):
            yield "corpora", str(path.relative_to(CORPORA)), path.read_bytes(), Setting()
    bench = workdir / "bench.log"
    build_log(TEMPLATE, bench, 2000)
    yield "benchmark corpus", "bench_modsecurity build_log 2000", bench.read_bytes(), Setting()
    serial = [tx for path in [DATA / "serial-2.9.log", *sorted((concurrent / "audit").rglob("*-*"))]
              if path.is_file() for tx in transactions(path.read_bytes())]
    for round_ in range(mutations):
        picked = [rng.choice(serial) for _ in range(8)]
        data = b"".join(mutate_serial(tx, rng) if rng.random() < 0.8 else tx for tx in picked)
        yield "serial mutations", f"serial mutation {round_}", data, Setting()
    records = json_records()
    for round_ in range(mutations):
        lines = [mutate_json(rng.choice(records), rng) for _ in range(8)]
        zone = rng.choice(["Asia/Shanghai", "America/New_York", "Europe/Berlin", "UTC", "Asia/Kolkata"])
        data = b"\n".join(lines) + b"\n"
        yield "json mutations", f"json mutation {round_} ({zone})", data, Setting(timezone=zone)


# --- speed ------------------------------------------------------------------------------------------------


def speed(workdir: Path, count: int) -> None:
    """CPU µs per transaction of the native `feed` against the reference (frame + parse + stamp)."""
    path = workdir / "speed.log"
    build_log(TEMPLATE, path, count)
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    blocks, offset = [], 0
    for i in range(0, len(lines), 4096):
        chunk = b"".join(lines[i : i + 4096])
        blocks.append((offset, chunk))
        offset += len(chunk)
    setting = Setting()

    def run_native() -> float:
        parser = native_parser(setting)
        started = time.process_time()
        events = sum(len(parser.feed(o, d)[0]) for o, d in blocks) + len(parser.finish()[0])
        assert events == count, events
        return time.process_time() - started

    def run_python() -> float:
        started = time.process_time()
        reference(blocks, setting)
        return time.process_time() - started

    calibration = min(calibrate() for _ in range(3))
    native_s = min(run_native() for _ in range(5))
    python_s = min(run_python() for _ in range(2))
    calibration = min(calibration, *(calibrate() for _ in range(3)))
    print(f"speed ({count} transactions, {len(data) / count / 1000:.1f} KB each, "
          f"calibration {calibration:.3f} s): native feed {native_s / count * 1e6:.1f} µs/tx CPU, "
          f"Python reference (frame + parse + stamp) {python_s / count * 1e6:.1f} µs/tx CPU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mutations", type=int, default=400, help="mutated inputs per group")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--speed", action="store_true", help="time the native feed against the reference")
    parser.add_argument("--transactions", type=int, default=10000, help="transactions timed by --speed")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tallies: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory(prefix="modsec-parity-") as tmp:
        for index, (group, name, data, setting) in enumerate(inputs(rng, args.mutations, Path(tmp))):
            tally = tallies.setdefault(group, Tally())
            compare(tally, name, data, setting, rng, all_blockings=index % 4 == 0 or "mutation" not in group)
        if args.speed:
            speed(Path(tmp), args.transactions)
    failed = False
    for group, tally in tallies.items():
        different = tally.compared - tally.equal
        failed |= different > 0
        print(f"{group}: {tally.inputs} inputs, {tally.frames} frames ({tally.native} read natively); "
              f"compared {tally.compared}, equal {tally.equal}, different {different}")
        for diff in tally.diffs:
            print(f"    {diff}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
