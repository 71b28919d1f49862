"""ModSecurity serial audit log: transactions per second, end to end (read lines, frame, parse, ECS).

The input is built by repeating real transactions written by the WAF fixture (default: the serial log
under tests/data/modsecurity, captured from Apache + ModSecurity 2.9.7 + CRS 3.3.4) with a fresh unique
id and boundary for each copy, in a temporary directory. The issue's floor is 5,000 transactions/s on
one core; the store is timed by the pipeline benchmarks, not here.

    .venv/bin/python benchmarks/bench_modsecurity.py [--transactions 20000] [--template LOG] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from secops.ingest.reader import read_lines
from secops.sources.modsecurity import ModSecurityAudit

TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "data" / "modsecurity" / "serial-2.9.log"
FLOOR = 5000
_START = re.compile(rb"(?m)^(?=--[0-9A-Za-z]+-A--$)")
_A_LINE = re.compile(rb"(?m)^(\[[^\]]+\] )(\S+)")


def build_log(template: Path, target: Path, transactions: int) -> int:
    """Write `transactions` copies of the template's transactions, each with its own id and boundary."""
    originals = [t for t in _START.split(template.read_bytes()) if t.strip()]
    written = 0
    with target.open("wb") as out:
        while written < transactions:
            for original in originals:
                if written == transactions:
                    break
                boundary = original[2:10]
                unique = b"bench%022d" % written
                copy = original.replace(b"--" + boundary + b"-", b"--%08x-" % written)
                copy = _A_LINE.sub(lambda m, unique=unique: m.group(1) + unique, copy, count=1)
                out.write(copy if copy.endswith(b"\n") else copy + b"\n")
                written += 1
    return written


def run(path: Path) -> tuple[int, int, float, float]:
    """(events, rejected, wall seconds, CPU seconds) for one pass over the file.

    CPU time is what "one core" means on a machine shared with other work; wall time is shown too.
    """
    source = ModSecurityAudit()
    framer = source.framer()
    events = rejected = 0
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as stream:
        frames = [f for line in read_lines(stream) for f in framer.push(line.offset, line.data)]
    frames.extend(framer.finish())
    for frame in frames:
        try:
            events += len(source.parse(frame))
        except Exception:
            rejected += 1
    return events, rejected, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--transactions", type=int, default=20000)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-modsec-") as tmp:
        path = Path(tmp) / "modsec_audit.log"
        count = build_log(args.template, path, args.transactions)
        size = path.stat().st_size
        events, rejected, wall, seconds = min((run(path) for _ in range(3)), key=lambda r: r[3])
    result = {
        "transactions": count,
        "events": events,
        "rejected": rejected,
        "megabytes": round(size / 1e6, 1),
        "cpu_seconds": round(seconds, 3),
        "wall_seconds": round(wall, 3),
        "transactions_per_second": round(events / seconds),
        "megabytes_per_second": round(size / 1e6 / seconds, 1),
        "floor": FLOOR,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"modsecurity serial: {events} transactions ({result['megabytes']} MB) in {seconds:.2f} s CPU "
            f"({wall:.2f} s wall) = "
            f"{result['transactions_per_second']:,} tx/s, {result['megabytes_per_second']} MB/s "
            f"(floor {FLOOR:,}); rejected {rejected}"
        )


if __name__ == "__main__":
    main()
