"""测评 reports of a full level-3 + cloud assessment (257 items): each format must be written in under
10 seconds (issue 8). Times building the report model, writing each format and verifying each file
(verify rebuilds the model and checks the file: the PDF's seal, the other formats' content), wall and CPU,
beside the calibration figure. Each write and verify is timed in this one process, so the first PDF
write includes importing WeasyPrint (about 0.8 s CPU), as a fresh `egovops compliance report` does.

    .venv/bin/python benchmarks/bench_reports.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from secops.compliance.report.formats import formats
from secops.compliance.report.model import Report, report_for
from secops.compliance.report.verify import verify
from tests.compliance.test_report import full_assessment


def timed(action: Callable[[], object]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    assessment = full_assessment("bench-1")
    built: list[Report] = []
    figures: dict[str, object] = {"calibration_s": round(calibrate(), 3),
                                  "items": len(assessment.items),
                                  "model": timed(lambda: built.append(report_for(assessment)))}
    report = built[0]
    with tempfile.TemporaryDirectory() as folder:
        for name, kind in formats().items():
            path = Path(folder) / f"report.{name}"
            write = timed(partial(kind.write, report, path))
            check = timed(partial(verify, path, lambda _id: report))
            figures[name] = {"write": write, "verify": check, "bytes": path.stat().st_size}
    figures["calibration_after_s"] = round(calibrate(), 3)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"calibration {figures['calibration_s']} s (after: {figures['calibration_after_s']} s); "
          f"{figures['items']} items; report model {figures['model']}")
    for name in formats():
        print(f"{name:5} {figures[name]}")


if __name__ == "__main__":
    main()
