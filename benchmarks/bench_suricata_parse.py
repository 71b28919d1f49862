"""Micro-benchmark: Suricata EVE parse + normalise cost per event type (µs/event, one core).

The end-to-end target (30,000 events/s into SQLite) leaves parse+normalise well under 15 µs per event.
Events are variants of the synthetic fixture lines in `tests/data/suricata/eve.json`: each copy gets its
own timestamp (a few hundred events per second, as a busy sensor writes them), addresses and ports, so
the per-minute and per-address memos of the parser see realistic hit rates rather than one repeated line.

    .venv/bin/python benchmarks/bench_suricata_parse.py [--events N] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from secops.events import Frame
from secops.sources.suricata import SuricataEve

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "suricata" / "eve.json"
KINDS = ("alert", "flow", "dns", "http")


def variants(template: dict[str, Any], count: int) -> list[Frame]:
    """`count` frames derived from one EVE record, with moving time and varied endpoints."""
    start = datetime.fromisoformat(template["timestamp"])
    frames = []
    for index in range(count):
        record = orjson.loads(orjson.dumps(template))
        moment = start + timedelta(microseconds=index * 2_500)
        record["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
        if "flow" in record and "start" in record["flow"]:
            record["flow"]["start"] = (moment - timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%f%z")
            if "end" in record["flow"]:
                record["flow"]["end"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
        record["src_ip"] = f"10.{index % 200}.{(index // 200) % 250}.{index % 97 + 1}"
        record["src_port"] = 1024 + index % 60_000
        record["flow_id"] = 1_000_000_000_000 + index
        frames.append(Frame(index, orjson.dumps(record)))
    return frames


def measure(frames: list[Frame], repeat: int) -> tuple[float, float]:
    """Best-of-`repeat` CPU µs per event: (parse + normalise, `orjson.loads` alone for reference).

    CPU time rather than wall time, because the benchmark machine is shared; the bare JSON decode beside
    it says how much of the cost is the parser's own work.
    """
    best = decode_only = float("inf")
    for _ in range(repeat):
        source = SuricataEve()
        began = time.process_time()
        for frame in frames:
            source.parse(frame)
        best = min(best, time.process_time() - began)
        began = time.process_time()
        for frame in frames:
            orjson.loads(frame.raw)
        decode_only = min(decode_only, time.process_time() - began)
    return best / len(frames) * 1e6, decode_only / len(frames) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per type (default 20000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best is reported (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    templates: dict[str, dict[str, Any]] = {}
    for line in FIXTURES.read_bytes().splitlines():
        record = orjson.loads(line)
        templates.setdefault(record["event_type"], record)
    results: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        frames = variants(templates[kind], args.events)
        size = sum(len(frame.raw) for frame in frames) / len(frames)
        micros, decode_micros = measure(frames, args.repeat)
        results[kind] = {
            "us_per_event": round(micros, 2),
            "events_per_s": round(1e6 / micros),
            "json_decode_us": round(decode_micros, 2),
            "bytes_per_event": round(size),
        }
    if args.json:
        sys.stdout.write(orjson.dumps(results).decode() + "\n")
    else:
        for kind, result in results.items():
            print(
                f"{kind:6} {result['us_per_event']:6.2f} µs/event {result['events_per_s']:>8,} events/s"
                f"  (orjson.loads alone {result['json_decode_us']:.2f} µs;"
                f" {result['bytes_per_event']} B/line)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
