"""/metrics latency with 100 departments and 10,000 sites (the issue's speed bar: under 100 ms).

Generates the estate (one city, 10 counties, 90 towns, 9,900 villages, one router and one uplink per
site, 100 departments with two systems each), serves `monitors.exporter.metrics_app` over a real HTTP
server (uvicorn on 127.0.0.1, in a thread) with an empty SQLite store, case store and audit trail beside
it, and times `GET /metrics`: the first scrape (every TTL cache cold) and the following ones (warm).
Loading and computing the indicators, done once per change of the estate file, is timed apart. A metering
file for the 100 departments sits beside the estate, so their gauges are in every scrape.

`egovops serve` builds its registry as it starts, with `background=True`: the indicators are computed in a
child process and the registry answers at once (`serve_first_scrape_*`: build_registry + the first render,
in process, an upper bound on serve's first scrape, which only renders; `_cold_imports_` when it is also
the first to import the collectors' modules, which serve does before it listens), and the indicators
appear when the child is done (`indicators_ready_s`).

    .venv/bin/python benchmarks/bench_metrics.py [--scrapes 50] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn
import yaml
from prometheus_client import generate_latest

from benchmarks.calibration import calibrate
from egovops.config import Settings
from monitors.exporter import build_registry, metrics_app
from monitors.indicators import load_figures
from tests.components.prometheus import free_port
from tests.monitors.estates import write_estate

SHAPE = {"departments": 100, "counties": 10, "towns": 9, "villages": 110, "slow_towns": 3}


def timed_get(url: str) -> tuple[float, float, int]:
    """Wall and CPU seconds of one GET (the server runs in this process), and the body's size."""
    wall, cpu = time.perf_counter(), time.process_time()
    with urllib.request.urlopen(url, timeout=30) as response:
        size = len(response.read())
    return time.perf_counter() - wall, time.process_time() - cpu, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        estate = write_estate(work / "estate.yaml", **SHAPE)
        used = {f"d{d}": {"vcpu_used": d % 100, "ram_used_gb": 4 * (d % 100)} for d in range(1, 101)}
        (work / "metering.yaml").write_text(yaml.safe_dump({"at": "2026-10-31", "departments": used}))
        cpu = time.process_time()
        _, figures = load_figures(estate)
        compute_cpu = time.process_time() - cpu
        settings = Settings.model_validate(
            {"store": {"url": f"sqlite:///{work / 'egovops.db'}", "spool_dir": str(work / "spool")},
             "response": {"audit_log": str(work / "audit.log")}}
        )  # fmt: skip
        lazy_scrapes = []
        for _ in range(2):  # the first also pays for importing the collectors' modules
            wall, cpu = time.perf_counter(), time.process_time()
            lazy = build_registry(settings, estate=estate, background=True)
            first_body = generate_latest(lazy)
            lazy_scrapes.append((time.perf_counter() - wall, time.process_time() - cpu))
        while b"egovops_indicator_value{" not in generate_latest(lazy):
            time.sleep(0.1)
        ready = time.perf_counter() - wall
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(metrics_app(settings, estate=estate), host="127.0.0.1", port=port,
                           log_level="warning", lifespan="off", access_log=False)
        )  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/metrics"
        cold = timed_get(url)
        warm = [timed_get(url) for _ in range(args.scrapes)]
        server.should_exit = True
        thread.join()
    walls = sorted(w for w, _, _ in warm)
    result = {
        "access_sites": SHAPE["counties"] * (1 + SHAPE["towns"] * (1 + SHAPE["villages"])),
        "departments": SHAPE["departments"],
        "indicator_series": sum(1 for r in figures.readings if r.value is not None)
        + len(figures.below_floor),
        "indicators_compute_cpu_s": round(compute_cpu, 3),
        "serve_first_scrape_wall_ms": round(lazy_scrapes[1][0] * 1000, 2),
        "serve_first_scrape_cpu_ms": round(lazy_scrapes[1][1] * 1000, 2),
        "serve_first_scrape_cold_imports_wall_ms": round(lazy_scrapes[0][0] * 1000, 2),
        "serve_first_scrape_has_indicators": b"egovops_indicator_value{" in first_body,
        "indicators_ready_s": round(ready, 2),
        "cold_scrape_wall_ms": round(cold[0] * 1000, 2),
        "cold_scrape_cpu_ms": round(cold[1] * 1000, 2),
        "warm_scrape_wall_ms_median": round(statistics.median(walls) * 1000, 2),
        "warm_scrape_wall_ms_p95": round(walls[int(len(walls) * 0.95) - 1] * 1000, 2),
        "warm_scrape_cpu_ms_mean": round(statistics.mean(c for _, c, _ in warm) * 1000, 2),
        "body_bytes": warm[-1][2],
        "calibration_s": round(calibrate(), 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:30} {value}")


if __name__ == "__main__":
    main()
