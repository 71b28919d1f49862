"""End-to-end ingest throughput on one core: read, parse, normalise, store.

Runs `egovops ingest` pinned to one CPU (taskset) on generated Suricata EVE, prints events/s and peak memory
next to Wazuh analysisd's published single-thread figures. With `--gigabyte` it also ingests a 1 GB EVE
file and reports peak memory (the floor is 500 MB). With `--stages` it also says where the time goes:
CPU per event of reading, parsing (the source's fastest reader, native when built) and the SQLite write,
each measured alone in this process.

    .venv/bin/python benchmarks/bench_ingest.py [--events 300000] [--gigabyte] [--stages] [--store URL]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from benchmarks.eve_corpus import write_eve, write_eve_bytes
from secops import sources
from secops.ingest.pipeline import IngestOptions, IngestReport, Sink, Stamper, read_records, record_reader
from secops.ingest.reader import fingerprint, read_blocks
from secops.sources.base import Source
from secops.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from egovops_native import Rows

WAZUH_EPS = "8,100-13,700"


def pinned(args: list[str]) -> list[str]:
    """Pin a command to one core when taskset exists (the figures are per core)."""
    return ["taskset", "-c", "1", *args] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else args


def command_env(bytecode: Path) -> dict[str, str]:
    """The measured command's environment: its modules' bytecode cached, as on an installed system.

    pip compiles bytecode when it installs a package, and a run from a checkout writes what is missing;
    a shell with PYTHONDONTWRITEBYTECODE (some tool sandboxes set it) would have every module edited
    since the last cached run compiled from source at each start (0.03-0.05 s of CPU for the five
    modules of the ingest path, measured). The cache lives in the benchmark's temporary directory.
    """
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    return env


def run_ingest(path: Path, store: str, env: dict[str, str] | None = None) -> dict[str, float]:
    # Issue 2's figure is ingest alone; detection has its own benchmark (bench_detect.py).
    command = pinned(
        [sys.executable, "-m", "egovops", "ingest", "--no-detect", "--store", store, str(path), "--json"]
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=True, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(result.stdout)
    return {
        "events": report["accepted"] + report["duplicates"],
        "accepted": report["accepted"],
        "seconds": elapsed,
        "cpu_seconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "peak_rss_mb": after.ru_maxrss / 1024,
    }


def stage_costs(eve: Path, database: Path) -> dict[str, float]:
    """CPU microseconds per event of each stage of `egovops ingest`, one after the other in this process."""
    options = IngestOptions()
    store = SQLiteStore(database)
    started = time.process_time()
    with eve.open("rb") as stream:
        blocks = list(read_blocks(stream))
    read = time.process_time()
    source = sources.create("suricata", options.source_options)
    assert isinstance(source, Source)  # EVE is read as text
    first = blocks[0].first_line()
    reader = record_reader(source, Stamper(source, str(eve), fingerprint(first), options))
    sink = Sink(store, batch_size=len(blocks) * 1_000_000, report=IngestReport())  # keeps every event
    read_records(reader, blocks, sink)
    parsed = time.process_time()
    # native rows kept in Rust, native rows as tuples, or events from a Python parser
    native, rows, events = sink.native, sink.rows, sink.events
    count = sink.native_count + len(rows) + len(events)
    per_write = max(options.batch_size, store.rows_per_write)  # as the sink hands them over
    batch: list[Rows] = []
    size = 0
    for block in native:
        batch.append(block)
        size += len(block)
        if size >= per_write:
            store.write_native(batch)
            batch, size = [], 0
    if batch:
        store.write_native(batch)
    for at in range(0, len(rows), per_write):
        store.write_rows(rows[at : at + per_write])
    for at in range(0, len(events), options.batch_size):
        store.write(events[at : at + options.batch_size])
    written = time.process_time()
    store.close()
    per_event = 1e6 / count
    return {
        "read": (read - started) * per_event,
        "parse": (parsed - read) * per_event,
        "store": (written - parsed) * per_event,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--store", default=None, help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--gigabyte", action="store_true", help="also measure peak memory on 1 GB of EVE")
    parser.add_argument("--stages", action="store_true", help="also time reading, parsing and storing apart")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="egovops-bench-") as tmp:
        work = Path(tmp)
        eve = work / "eve.json"
        size = write_eve(eve, args.events)
        store = args.store or f"sqlite:///{work / 'bench.db'}"
        one = work / "one.json"
        one.write_bytes(eve.open("rb").readline())
        env = command_env(work / "bytecode")
        run_ingest(one, f"sqlite:///{work / 'warm.db'}", env)  # writes the bytecode cache
        figures = run_ingest(eve, store, env)
        rate = figures["events"] / figures["seconds"]
        cpu_rate = figures["events"] / figures["cpu_seconds"]
        print(f"Suricata EVE -> {store.split(':')[0]}: {figures['events']:.0f} events, {size / 1e6:.0f} MB")
        print(f"  egovops ingest (1 core, end to end): {rate:,.0f} events/s "
              f"({figures['seconds']:.1f} s wall, {figures['cpu_seconds']:.1f} s CPU, "
              f"peak {figures['peak_rss_mb']:.0f} MB); {cpu_rate:,.0f} events per CPU-second")
        startup = run_ingest(one, f"sqlite:///{work / 'one.db'}", env)["cpu_seconds"]
        print(f"  of which starting the command (one event): {startup:.2f} s CPU; without it "
              f"{figures['events'] / (figures['cpu_seconds'] - startup):,.0f} events per CPU-second")
        print(f"  calibration loop: {calibrate():.2f} s (see benchmarks/calibration.py)")
        print(f"  Wazuh analysisd, published, single thread: {WAZUH_EPS} events/s")
        if args.stages:
            stages = stage_costs(eve, work / "stages.db")
            print("  CPU per event, each stage alone (this process, not pinned): "
                  + ", ".join(f"{name} {us:.1f} us" for name, us in stages.items())
                  + f"; calibration {calibrate():.2f} s")
        if args.gigabyte:
            big = work / "eve-1g.json"
            events = write_eve_bytes(big, 1_000_000_000)
            eve.unlink()
            figures = run_ingest(big, f"sqlite:///{work / 'big.db'}", env)
            print(f"1 GB EVE ({events} events): peak memory {figures['peak_rss_mb']:.0f} MB "
                  f"(floor: under 500 MB), {figures['events'] / figures['seconds']:,.0f} events/s")


if __name__ == "__main__":
    main()
