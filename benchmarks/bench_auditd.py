"""Benchmark: auditd records/s on one core, the source alone and end to end into SQLite.

The issue's floor is 30,000 records/s end to end (read, frame, parse, coalesce, store). A large log is
generated in a temporary directory by repeating the events of the go-libaudit and crowdsec corpora (read in
place from ../shared/corpora) with fresh serials and moving timestamps, so framing sees the usual mix:
multi-record syscall events closed by PROCTITLE or EOE, single user-space records, and events that only
close by age. Two figures, both in CPU time:

- source: blocks read as the pipeline reads them, framed, parsed and coalesced (no ids, no store);
- pipeline: `Ingestor(SQLiteStore(...)).run([log])`, everything `egovops ingest` does into a fresh SQLite
  file (event ids, `event.original`, batched writes with the free-text index).

The calibration loop (benchmarks/calibration.py) says how fast the core was: compare figures whose
calibration times are close, or scale by them.

    taskset -c 1 .venv/bin/python benchmarks/bench_auditd.py [--records N] [--source-only] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from benchmarks.source_only import parse_file
from secops.ingest.pipeline import IngestOptions, Ingestor
from secops.sources.auditd import AuditdLog
from secops.store.sqlite import SQLiteStore

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


def run_source(path: Path) -> tuple[int, int, float]:
    """Read, frame, parse and coalesce the file as the pipeline does; (events, rejected, CPU seconds)."""
    began = time.process_time()
    events, rejected = parse_file(AuditdLog(), path)
    return events, rejected, time.process_time() - began


def run_pipeline(path: Path, database: Path) -> tuple[int, int, float]:
    """`egovops ingest` of the file into a fresh SQLite store; (accepted, rejected, CPU seconds)."""
    store = SQLiteStore(database)
    try:
        began = time.process_time()
        report = Ingestor(store, IngestOptions(observer="bench")).run([path])
        seconds = time.process_time() - began
    finally:
        store.close()
    if report.errors:
        raise SystemExit(f"ingest failed: {report.errors}")
    return report.accepted, report.rejected, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--source-only", action="store_true", help="skip the end-to-end run into SQLite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="bench-auditd-") as tmp:
        path = Path(tmp) / "audit.log"
        records = write_log(path, args.records)
        size = path.stat().st_size
        calibration = calibrate()
        events, rejected, seconds = run_source(path)
        result: dict[str, object] = {
            "calibration_s": round(calibration, 3), "records": records, "mb": round(size / 1e6, 1),
            "events": events, "rejected": rejected,
            "source": {"cpu_seconds": round(seconds, 3), "records_per_s": round(records / seconds),
                       "us_per_record": round(seconds / records * 1e6, 2)},
        }
        if not args.source_only:
            accepted, stored_rejected, total = run_pipeline(path, Path(tmp) / "b.db")
            result["pipeline"] = {"cpu_seconds": round(total, 3), "records_per_s": round(records / total),
                                  "us_per_record": round(total / records * 1e6, 2),
                                  "accepted": accepted, "rejected": stored_rejected}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"auditd: {records:,} records ({result['mb']} MB) -> {events:,} events, {rejected} rejected; "
          f"calibration loop {calibration:.3f} s")
    print(f"  Python reference:    {records / seconds:>7,.0f} records/s "
          f"({seconds / records * 1e6:.1f} µs/record CPU)")
    if "pipeline" in result:
        print(f"  end to end (SQLite): {records / total:>7,.0f} records/s "
              f"({total / records * 1e6:.1f} µs/record CPU, {accepted:,} events stored); "
              "floor 30,000 records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
