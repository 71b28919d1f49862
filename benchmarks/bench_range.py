"""The drill range: how long `up` and `down` take (issue 7's floor: up < 30 s, down < 10 s).

Each round builds the shipped range (router, web with Apache+ModSecurity+CRS, sshd, tshark, auditd) in
a fresh directory, then takes it down; wall time of each, this process's CPU time and its children's
(`ip`, `openssl`, `ssh-keygen`, `auditctl`...) are printed beside the calibration figure and the load
average, as the machine is shared. Needs root and the range's programs (see docs/range.md). With
`--no-audit` the range runs without auditd (only one auditd may own the kernel's audit socket).

    .venv/bin/python benchmarks/bench_range.py [--rounds 3] [--no-audit] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from secops.drills.range import SHIPPED, down, up


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_round(description: Path, index: int) -> dict[str, float]:
    parent = Path(tempfile.mkdtemp(prefix="egovops-bench-range-"))
    parent.chmod(0o755)
    cpu, kids, started = time.process_time(), children_cpu(), time.monotonic()
    rng = up(description, parent / "range", f"egv-bench{os.getpid() % 10000}-{index}")
    up_s, up_cpu, up_kids = time.monotonic() - started, time.process_time() - cpu, children_cpu() - kids
    cpu, kids, started = time.process_time(), children_cpu(), time.monotonic()
    down(rng)
    down_s, down_cpu, down_kids = time.monotonic() - started, time.process_time() - cpu, children_cpu() - kids
    parent.rmdir()
    return {"up_s": up_s, "up_cpu_s": up_cpu, "up_children_cpu_s": up_kids,
            "down_s": down_s, "down_cpu_s": down_cpu, "down_children_cpu_s": down_kids}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-audit", action="store_true", help="run the range without auditd")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_range needs root (network namespaces, auditd)", file=sys.stderr)
        return 0
    description = SHIPPED
    if args.no_audit:
        description = Path(tempfile.mkdtemp(prefix="egovops-bench-desc-")) / "range.yaml"
        text = SHIPPED.read_text().replace("audit: {enabled: true}", "audit: {enabled: false}")
        description.write_text(text)
    calibration = calibrate()
    rounds = [one_round(description, i) for i in range(args.rounds)]
    result = {
        "rounds": rounds,
        "up_s_median": statistics.median(r["up_s"] for r in rounds),
        "down_s_median": statistics.median(r["down_s"] for r in rounds),
        "audit": not args.no_audit,
        "calibration_s": calibration,
        "loadavg_1m": os.getloadavg()[0],
        "cores": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for i, r in enumerate(rounds):
        print(f"round {i}: up {r['up_s']:.2f} s (cpu {r['up_cpu_s']:.2f} + children "
              f"{r['up_children_cpu_s']:.2f} s)  down {r['down_s']:.2f} s (cpu {r['down_cpu_s']:.2f} + "
              f"children {r['down_children_cpu_s']:.2f} s)")  # fmt: skip
    print(f"median: up {result['up_s_median']:.2f} s (floor 30 s), down {result['down_s_median']:.2f} s "
          f"(floor 10 s); audit {'on' if result['audit'] else 'off'}; calibration {calibration:.3f} s; "
          f"load {result['loadavg_1m']:.2f} on {result['cores']} cores")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
