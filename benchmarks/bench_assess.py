"""A full level-3 assessment (issue 8: under 60 seconds): this machine as the host (the check-mode
playbook over the local connection), one router configuration, and the SOC evidence (settings, an event
store, detection rules, the audit trail), graded, scored and stored. Prints wall time per stage, the CPU
time of this process and of its children (ansible runs in child processes), beside the calibration figure.

    .venv/bin/python benchmarks/bench_assess.py [--json] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from egovops.audit import AuditTrail
from egovops.config import Settings, StoreSettings
from secops.compliance.evidence.assess import Sources, assess
from secops.compliance.evidence.host import HostTarget
from secops.compliance.store import AssessmentStore
from secops.response.settings import ResponseSettings

ROUTER = Path(__file__).resolve().parents[1] / "tests" / "network" / "golden" / "east-r1.cfg"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(folder: Path) -> dict[str, object]:
    AuditTrail(folder / "audit.log").append("bench", "compliance.assess", "bench", {})
    settings = Settings(store=StoreSettings(url=f"sqlite:///{folder / 'events.db'}"),
                        response=ResponseSettings(audit_log=folder / "audit.log"))  # fmt: skip
    sources = Sources(host=HostTarget(), router_configs=[ROUTER], settings=settings)
    stages: list[tuple[str, float]] = []
    wall, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
    graded = assess("bench", 3, sources, target="local",
                    progress=lambda step: stages.append((step, time.perf_counter())))  # fmt: skip
    with AssessmentStore(f"sqlite:///{folder / 'assessments.db'}") as store:
        store.save(graded.assessment, graded.outcome)
    end = time.perf_counter()
    marks = [*stages, ("end", end)]
    return {
        "wall_s": round(end - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "children_cpu_s": round(children_cpu() - child, 2),
        "stages_s": {name.split(":")[0]: round(nxt - at, 2) for (name, at), (_, nxt) in pairwise(marks)},
        "items": len(graded.assessment.items),
        "decided": sum(1 for i in graded.assessment.items if i.checks),
        "score": graded.outcome.score,
        "band": graded.outcome.band,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    figures: dict[str, object] = {"calibration_s": round(calibrate(), 3)}
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="egovops-bench-assess-") as folder:
            runs.append(one_run(Path(folder)))
    figures["runs"] = runs
    figures["calibration_after_s"] = round(calibrate(), 3)
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    print(f"calibration {figures['calibration_s']} s (after: {figures['calibration_after_s']} s)")
    for run in runs:
        print(json.dumps(run, ensure_ascii=False))


if __name__ == "__main__":
    main()
