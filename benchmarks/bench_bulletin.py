"""The monthly bulletin for a Shantou-size estate (stacks/shantou: 23 departments, 46 systems) must render
in under 15 seconds (issue 9). Beside the estate: a metering file for every department, a year of monthly
indicator snapshots, and in the assessment store two assessments of every level-3 system (a year apart,
so the month's 整改 diff runs for each). Times gathering the figures and writing the PDF and the XLSX,
wall and CPU, beside the calibration figure.

    .venv/bin/python benchmarks/bench_bulletin.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from benchmarks.calibration import calibrate
from monitors.bulletin import as_pdf, as_xlsx
from monitors.bulletin.gather import Bulletin, gather
from monitors.bulletin.period import Month
from monitors.indicators import load_figures, record_history
from secops.compliance.assessment import Assessment, ItemAssessment
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import Result, Risk, load_scoring_model, score
from secops.compliance.store import AssessmentStore
from secops.incidents.cases import open_cases
from secops.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
ESTATE = REPO / "stacks" / "shantou" / "estate.yaml"
MONTH = Month(2026, 10)


def timed(action: Callable[[], object]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


def prepare(work: Path) -> tuple[Path, Path]:
    """The metering file beside a copy of the estate, the history and the assessment store."""
    estate_file = work / "estate.yaml"
    estate_file.write_text(ESTATE.read_text(encoding="utf-8"), encoding="utf-8")
    estate, figures = load_figures(estate_file)
    used = {t.name: {"vcpu_used": 10 * (n + 1), "ram_used_gb": 50 * (n + 1), "storage_used_tb": n}
            for n, t in enumerate(estate.tenants)}  # fmt: skip
    (work / "metering.yaml").write_text(yaml.safe_dump({"at": "2026-10-31", "departments": used}))
    history = work / "indicators.jsonl"
    for month in range(1, 11):
        record_history(history, figures.readings, date(2026, month, 28))
    items = load_catalogue(3).items
    model = load_scoring_model()
    with AssessmentStore(f"sqlite:///{work / 'egovops.db'}") as store:
        for tenant in estate.tenants:
            for system in (s for s in tenant.systems if s.level >= 3):
                for at, failing in (
                    (datetime(2025, 10, 2, tzinfo=UTC), 10),
                    (datetime(2026, 10, 2, tzinfo=UTC), 2),
                ):
                    results = [
                        ItemAssessment(item_id=i.id, result=Result.NON_COMPLIANT, risk=Risk.MEDIUM)
                        if n < failing else ItemAssessment(item_id=i.id, result=Result.COMPLIANT)
                        for n, i in enumerate(items)
                    ]  # fmt: skip
                    made = Assessment(
                        id=f"{system.name}-{at.year}", system=system.name, level=3, target="local",
                        created_at=at, catalogue_versions={}, scoring_version="bench", items=tuple(results),
                    )  # fmt: skip
                    store.save(made, score(load_catalogue(3), made.results(), made.problems(), model))
    return estate_file, history


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    figures: dict[str, object] = {"calibration_s": round(calibrate(), 3)}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        estate_file, history = prepare(work)
        events = SQLiteStore(work / "egovops.db")
        made: list[Bulletin] = []
        with open_cases(events.url) as cases, AssessmentStore(events.url) as assessments:
            figures["gather"] = timed(lambda: made.append(gather(
                MONTH, store=events, cases=cases, assessments=assessments, estate_path=estate_file,
                history=history,
            )))  # fmt: skip
        events.close()
        bulletin = made[0]
        figures["pdf"] = timed(lambda: as_pdf.write(bulletin, work / "b.pdf"))
        figures["xlsx"] = timed(lambda: as_xlsx.write(bulletin, work / "b.xlsx"))
        figures["departments"], figures["assessments_done"] = len(bulletin.ranking), len(bulletin.done)
        figures["vulnerabilities_fixed"] = bulletin.security.vulnerabilities_fixed
        figures["pdf_bytes"], figures["xlsx_bytes"] = (
            (work / "b.pdf").stat().st_size,
            (work / "b.xlsx").stat().st_size,
        )
    total = [figures[k] for k in ("gather", "pdf", "xlsx")]
    figures["total_wall_s"] = round(sum(t["wall_s"] for t in total if isinstance(t, dict)), 2)
    figures["total_cpu_s"] = round(sum(t["cpu_s"] for t in total if isinstance(t, dict)), 2)
    figures["calibration_after_s"] = round(calibrate(), 3)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:24} {value}")


if __name__ == "__main__":
    main()
