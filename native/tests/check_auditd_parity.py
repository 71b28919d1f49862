"""Differential check: the native auditd parser (`egovops_native.AuditdParser`) against the Python reference.

The reference is what ingest runs today: `AuditFramer` frames the lines, `AuditdLog.parse` coalesces each
frame (failures become dead letters through `parse_frame`), and the pipeline's `Stamper` stamps each
document. Both sides read the same inputs; compared are the events in order (id, @timestamp, dataset, the
document as a dict, message), the dead letters (offset, reason, raw bytes) and `pending_offset` after every
block. The native side is fed in blocks of different sizes (whole input, line by line, random line
counts), which must not change anything. `auditd_normalise` is compared with `AuditdLog.parse` on every
frame. Inputs: the go-libaudit and audit-userspace corpora and the crowdsec auditd tests (read in place),
the audit text written in tests/sources/test_auditd*.py, a log from benchmarks/bench_auditd.py
`write_log`, mutations of all of these, the tests' own hypothesis strategies, and every GBK byte pair.

    cd native && CARGO_TARGET_DIR=target-auditd cargo build --release --no-default-features --features auditd
    mkdir -p /tmp/native-auditd && cp target-auditd/release/libegovops_native.so \\
        /tmp/native-auditd/egovops_native.abi3.so
    PYTHONPATH=/tmp/native-auditd .venv/bin/python native/tests/check_auditd_parity.py [--speed]

Exit status 0 when every comparison is equal.
"""

from __future__ import annotations

import argparse
import ast
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

import egovops_native  # noqa: E402
import yaml  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from benchmarks.bench_auditd import write_log  # noqa: E402
from benchmarks.calibration import calibrate  # noqa: E402
from secops.events import Doc, Frame, Rejected  # noqa: E402
from secops.ingest.pipeline import IngestOptions, Stamper, parse_frame  # noqa: E402
from secops.sources.auditd import AuditdLog, AuditFramer  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
LABEL = "audit.log"
OPTIONS = IngestOptions(observer="parity-host", keep_original=True)
SHOWN_DIFFS = 5

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
    records: int = 0
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


def stamper() -> Stamper:
    return Stamper(AuditdLog(), LABEL, "parity-identity", OPTIONS)


def reference(blocks: Blocks) -> Run:
    """Frame, parse and stamp as ingest does (`process_frames` with the blocks' pending offsets)."""
    framer, source, stamp, run = AuditFramer(), AuditdLog(), stamper(), Run()
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
    return run


def native_parser() -> Any:
    stamp = stamper().stamp
    return egovops_native.AuditdParser(id_prefix=stamp.id_prefix, label=stamp.label, observer=stamp.observer,
                                       keep_original=stamp.keep_original, dataset=stamp.dataset)


def native(blocks: Blocks) -> Run:
    parser, run = native_parser(), Run()

    def take(batch: tuple[list[Any], list[Letter]]) -> None:
        events, letters = batch
        run.events += [(i, ts, ds, json.loads(doc), msg) for i, ts, ds, doc, msg in events]
        run.letters += letters

    for offset, data in blocks:
        take(parser.feed(offset, data))
        run.pending.append(parser.pending_offset())
    take(parser.finish())
    return run


def split(data: bytes, sizes: Iterator[int]) -> Blocks:
    """The input as blocks of whole lines, each the next of `sizes` lines long."""
    lines = [line + b"\n" for line in data.split(b"\n")[:-1]]
    blocks: Blocks = []
    offset = i = 0
    while i < len(lines):
        count = next(sizes)
        chunk = b"".join(lines[i:i + count])
        i += count
        blocks.append((offset, chunk))
        offset += len(chunk)
    return blocks


def block_plans(data: bytes, seed: int) -> dict[str, Blocks]:
    rng = random.Random(seed)
    plans = {"whole": [(0, data)], "random": split(data, iter(lambda: rng.randint(1, 40), 0))}
    if data.count(b"\n") <= 20_000:
        plans["per-line"] = split(data, iter(lambda: 1, 0))
    return plans


def compare(tally: Tally, name: str, data: bytes, seed: int = 0) -> None:
    """Feed one input to both sides under every block plan and record the comparisons."""
    if not data.endswith(b"\n"):
        data += b"\n"
    tally.inputs += 1
    tally.records += sum(1 for line in data.split(b"\n") if line.strip())
    want = reference([(0, data)])
    for plan, blocks in block_plans(data, seed).items():
        got = native(blocks)
        where = f"{name} [{plan}]"
        tally.check(f"{where} event count", len(got.events), len(want.events))
        for i, (ours, theirs) in enumerate(zip(got.events, want.events, strict=False)):
            tally.check(f"{where} event {i} (offset {theirs[0][-16:-4]})", ours, theirs)
        tally.check(f"{where} dead letters", got.letters, want.letters)
        if plan != "whole":
            tally.check(f"{where} pending offsets", got.pending, reference(blocks).pending)
    source, framer = AuditdLog(), AuditFramer()
    for frame in framer.feed(0, data) + framer.finish():
        compare_normalise(tally, f"{name} normalise@{frame.offset}", frame.raw, source)


def compare_normalise(tally: Tally, what: str, raw: bytes, source: AuditdLog) -> None:
    try:
        want: object = parse_frame(source, Frame(0, raw))
    except Rejected as exc:
        want = ("rejected", str(exc))
    try:
        got: object = [json.loads(doc) for doc in egovops_native.auditd_normalise(raw)]
    except ValueError as exc:
        got = ("rejected", str(exc))
    tally.check(what, got, want)


# --- inputs -------------------------------------------------------------------------------------------


def corpus_inputs() -> dict[str, list[tuple[str, bytes]]]:
    go = CORPORA / "go-libaudit"
    groups: dict[str, list[tuple[str, bytes]]] = {
        "go-libaudit logs": [(p.name, p.read_bytes()) for p in
                             sorted([*go.glob("auparse/testdata/*.log"), *go.glob("testdata/*.log")])],
        "go-libaudit aucoalesce": [],
        "audit-userspace": [(p.name, p.read_bytes()) for p in
                            sorted((CORPORA / "audit-userspace").rglob("*.log"))],
        "crowdsec auditd": [(p.name, p.read_bytes()) for p in
                            sorted((CORPORA / "crowdsec-hub" / ".tests").glob("auditd-*/*.log"))],
    }
    for spec in sorted(go.glob("aucoalesce/testdata/*.yaml")):
        for test, text in yaml.safe_load(spec.read_text())["tests"].items():
            groups["go-libaudit aucoalesce"].append((f"{spec.stem}:{test}", text.encode()))
    return groups


def test_text_inputs() -> list[tuple[str, bytes]]:
    """Every string or bytes literal in the auditd tests that holds audit text, alone and all together."""
    found: list[tuple[str, bytes]] = []
    for path in sorted((ROOT / "tests" / "sources").glob("test_auditd*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                value = node.value.encode() if isinstance(node.value, str) else node.value
                if b"msg=audit(" in value or b"type=" in value or b"msg='" in value:
                    found.append((f"{path.name}:{node.lineno}", value))
    joined = b"\n".join(value for _, value in found)
    return [*found, ("all test literals", joined)]


NASTY = ["'", '"', "\\", "=", " ", "  ", "\t", "\x1c", "\x1d", "\x85", "\xa0", "\u3000", "\u0663", "\u00b2",
         "msg='", "(null)", "?", "-", "0x", "_", "中", "\r", "UID=", "ARCH=", "avc:  denied  { read } for ",
         "a1[0]=", "a1_len=3 ", "saddr=", "=\"", "}", "{", "type=EOE msg=audit(1.0:1):", "\xff", "\x80",
         "node=h ", "old ", "new ", " (hostname=", ")'", "%", "4294967295", "-13", "success=no", "res=1"]


def mutate(line: bytes, rng: random.Random) -> bytes:
    """A line with a few random edits: bytes flipped, cut, or tricky text inserted."""
    out = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(out))
        action = rng.random()
        if action < 0.5:
            out[at:at] = rng.choice(NASTY).encode("utf-8" if rng.random() < 0.9 else "latin-1", "replace")
        elif action < 0.7 and out:
            del out[at:at + rng.randint(1, 8)]
        elif action < 0.85 and at < len(out):
            out[at] = rng.randint(0, 255)
        else:
            out[at:at] = out[rng.randint(0, len(out)):][:rng.randint(1, 30)]
    return bytes(out)


def fuzz_inputs(lines: list[bytes], count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    for n in range(count):
        picked = [rng.choice(lines) for _ in range(rng.randint(1, 12))]
        yield f"fuzz#{n}", b"\n".join(mutate(line, rng) if rng.random() < 0.7 else line for line in picked)


def gbk_pairs() -> bytes:
    """One record per GBK lead/trail byte pair, the pair inside a value (Python's codec is strict)."""
    pairs = ((lead, trail) for lead in range(0x80, 0x100) for trail in range(0x30, 0x100))
    records = [b"type=USER_CMD msg=audit(1700000000.%03d:%d): pid=1 cmd=x%sy" % (i % 1000, i, bytes(pair))
               for i, pair in enumerate(pairs)]
    return b"\n".join(records)


def run_hypothesis(tally: Tally, examples: int) -> None:
    """The tests' own generators: record bodies (fast-path test), framing lines and arbitrary bytes."""
    from tests.sources.test_auditd_fast_paths import BODIES, LINES

    types = st.sampled_from(["SYSCALL", "PATH", "EXECVE", "SOCKADDR", "USER_LOGIN", "AVC", "EOE", "PROCTITLE",
                             "UNKNOWN[1334]", "CONFIG_CHANGE", "LOGIN", "USER_START", "SECCOMP", "CWD"])
    records = st.builds(lambda t, s, body: f"type={t} msg=audit(1700000000.1:{s}): ".encode() + body,
                        types, st.integers(0, 3), st.one_of(st.binary(max_size=120), BODIES.map(str.encode)))
    streams = st.one_of(LINES.map(b"\n".join),
                        st.lists(st.one_of(st.binary(max_size=200), records), max_size=12).map(b"\n".join))

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(streams)
    def check(data: bytes) -> None:
        compare(tally, f"hypothesis {data[:60]!r}", data)

    check()


# --- speed --------------------------------------------------------------------------------------------


def measure_speed(records: int) -> None:
    """CPU µs per record: native `feed` (frame, parse, stamp, JSON) and the Python reference."""
    with tempfile.TemporaryDirectory(prefix="auditd-speed-") as tmp:
        path = Path(tmp) / "audit.log"
        written = write_log(path, records)
        data = path.read_bytes()
    blocks = split(data, iter(lambda: 8192, 0))
    calibration = calibrate()
    parser = native_parser()
    began = time.process_time()
    events = 0
    for offset, block in blocks:
        events += len(parser.feed(offset, block)[0])
    events += len(parser.finish()[0])
    native_s = time.process_time() - began
    framer, source = AuditFramer(), AuditdLog()
    began = time.process_time()
    parsed = 0
    for offset, block in blocks:
        for frame in framer.feed(offset, block):
            parsed += len(source.parse(frame))
    for frame in framer.finish():
        parsed += len(source.parse(frame))
    python_s = time.process_time() - began
    print(f"speed: {written:,} records, {events:,} events ({written / events:.2f} records/event); "
          f"calibration {calibration:.3f} s")
    print(f"  native feed (frame+parse+stamp+JSON): {native_s / written * 1e6:6.2f} µs/record CPU "
          f"({written / native_s:,.0f} records/s)")
    print(f"  python AuditFramer.feed + AuditdLog.parse: {python_s / written * 1e6:6.2f} µs/record CPU "
          f"({parsed:,} documents)")


# --- main ---------------------------------------------------------------------------------------------


def report(name: str, tally: Tally) -> bool:
    print(f"{name:28} inputs {tally.inputs:6,}  records {tally.records:8,}  compared {tally.compared:8,}  "
          f"equal {tally.equal:8,}  different {tally.compared - tally.equal:5,}")
    for diff in tally.diffs:
        print(f"    {diff[:1500]}")
    return tally.compared == tally.equal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-records", type=int, default=60_000)
    parser.add_argument("--fuzz", type=int, default=3000, help="mutated inputs")
    parser.add_argument("--hypothesis", type=int, default=1500, help="examples from the tests' strategies")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--speed", action="store_true", help="also measure CPU µs per record")
    parser.add_argument("--speed-records", type=int, default=200_000)
    args = parser.parse_args(argv)

    ok = True
    all_lines: list[bytes] = []
    for group, inputs in corpus_inputs().items():
        tally = Tally()
        for name, data in inputs:
            compare(tally, name, data)
            all_lines += [line for line in data.splitlines() if line.strip()]
        ok &= report(group, tally)

    tally = Tally()
    for name, data in test_text_inputs():
        compare(tally, name, data)
        all_lines += [line for line in data.splitlines() if line.strip()]
    ok &= report("test literals", tally)

    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="auditd-parity-") as tmp:
        path = Path(tmp) / "audit.log"
        write_log(path, args.bench_records)
        compare(tally, "bench_auditd.write_log", path.read_bytes())
    ok &= report("benchmark log", tally)

    tally = Tally()
    for name, data in fuzz_inputs(all_lines, args.fuzz, args.seed):
        compare(tally, name, data, seed=args.seed)
    ok &= report("mutations", tally)

    tally = Tally()
    run_hypothesis(tally, args.hypothesis)
    ok &= report("hypothesis strategies", tally)

    tally = Tally()
    compare(tally, "gbk pairs", gbk_pairs())
    ok &= report("GBK byte pairs", tally)

    if args.speed:
        measure_speed(args.speed_records)
    print("parity: OK" if ok else "parity: DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
