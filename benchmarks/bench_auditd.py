"""Benchmark: auditd records/s end to end on one core (read, frame, parse, coalesce; no store).

The issue's floor is 30,000 records/s. A large log is generated in a temporary directory by repeating the
events of the go-libaudit and crowdsec corpora (read in place from ../shared/corpora) with fresh serials
and moving timestamps, so framing sees the usual mix: multi-record syscall events closed by PROCTITLE or
EOE, single user-space records, and events that only close by age.

    taskset -c 1 .venv/bin/python benchmarks/bench_auditd.py [--records N] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

from secops.events import Rejected
from secops.sources.auditd import AuditdLog

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
_STAMP = re.compile(r"msg=audit\(\d+\.(\d+):(\d+)\)")


def corpus_events() -> list[list[str]]:
    """Every event of the corpora as its record lines (grouped by serial)."""
    texts: list[str] = []
    for spec in sorted((CORPORA / "go-libaudit" / "aucoalesce" / "testdata").glob("*.yaml")):
        texts += yaml.safe_load(spec.read_text())["tests"].values()
    for pattern in ("go-libaudit/auparse/testdata/*.log", "crowdsec-hub/.tests/auditd-*/*.log"):
        texts += [p.read_text(errors="replace") for p in sorted(CORPORA.glob(pattern))]
    events: dict[str, list[str]] = {}
    for text in texts:
        for line in text.splitlines():
            match = _STAMP.search(line)
            if match:
                events.setdefault(f"{len(events) // 10_000}:{match.group(0)}", []).append(line.strip())
    return list(events.values())


def write_log(path: Path, records: int) -> int:
    """A log of about `records` records: corpus events repeated with fresh serials and times."""
    events = corpus_events()
    written = 0
    serial = 1
    with path.open("w") as out:
        while written < records:
            for lines in events:
                seconds = 1_700_000_000 + serial // 500
                stamp = f"msg=audit({seconds}.{serial % 1000:03d}:{serial})"
                for line in lines:
                    out.write(_STAMP.sub(stamp, line, count=1) + "\n")
                written += len(lines)
                serial += 1
    return written


def run(path: Path) -> tuple[int, int, int, float]:
    """Read, frame, parse and coalesce the file; (records, events, rejected, CPU seconds)."""
    source = AuditdLog()
    framer = source.framer()
    events = rejected = records = 0
    began = time.process_time()
    with path.open("rb") as handle:
        offset = 0
        frames = []
        for raw in handle:
            line = raw.rstrip(b"\n")
            records += 1
            frames = framer.push(offset, line)
            offset += len(raw)
            for frame in frames:
                try:
                    events += len(source.parse(frame))
                except Rejected:  # a dead letter in the pipeline; counted here
                    rejected += 1
        for frame in framer.finish():
            try:
                events += len(source.parse(frame))
            except Rejected:
                rejected += 1
    return records, events, rejected, time.process_time() - began


def reference_loop() -> float:
    """CPU seconds of a fixed pure-Python loop: says how fast this core is right now (shared machines)."""
    began = time.process_time()
    total = 0
    for index in range(2_000_000):
        total += index & 7
    return time.process_time() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.log"
        write_log(path, args.records)
        size = path.stat().st_size
        records, events, rejected, seconds = run(path)
    result = {"reference_loop_s": round(reference_loop(), 3), "records": records, "events": events,
              "rejected": rejected, "cpu_seconds": round(seconds, 3),
              "records_per_s": round(records / seconds), "events_per_s": round(events / seconds),
              "mb": round(size / 1e6, 1)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{records} records ({result['mb']} MB) -> {events} events, {rejected} rejected in "
              f"{seconds:.2f} s CPU: {result['records_per_s']:,} records/s, {result['events_per_s']:,} "
              f"events/s (floor 30,000 records/s); reference loop {result['reference_loop_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
