"""The estate gauges beyond the indicators: each department's use against its quota and the city's target,
the latest 等保 score and band per system, the latest drill per scenario — equal to what the metering
file and the stores hold, with bounded labels — and the indicators computed in the background."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from egovops.config import Settings
from monitors.exporter import build_registry
from monitors.indicators import IndicatorCollector
from monitors.metrics import ALLOWED_LABELS, ControlPlaneMetrics
from secops.compliance.assessment import Assessment, ItemAssessment
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import Result, Risk, load_scoring_model, score
from secops.compliance.store import AssessmentStore
from secops.drills.history import History
from secops.drills.scorecard import Scorecard
from tests.monitors.estates import write_estate

GIB = 1024**3


def settings_in(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {"store": {"url": f"sqlite:///{tmp_path / 'egovops.db'}", "spool_dir": str(tmp_path / "spool")},
         "response": {"audit_log": str(tmp_path / "audit.log")},
         "drills": {"history": str(tmp_path / "drills.db")}}
    )  # fmt: skip


def assessment(assessment_id: str, at: datetime, failing: int) -> Assessment:
    catalogue = load_catalogue(3).items
    items = [
        ItemAssessment(item_id=i.id, result=Result.NON_COMPLIANT, risk=Risk.MEDIUM)
        if n < failing else ItemAssessment(item_id=i.id, result=Result.COMPLIANT)
        for n, i in enumerate(catalogue)
    ]  # fmt: skip
    return Assessment(id=assessment_id, system="系统1-1", level=3, target="local", created_at=at,
                      catalogue_versions={}, scoring_version="test", items=tuple(items))  # fmt: skip


def drill(started: datetime, score_: int, coverage: float) -> Scorecard:
    return Scorecard(scenario="web-attack-chain", started=started, finished=started, steps=[],
                     coverage=coverage, techniques_executed=[], techniques_detected=[], false_positives=[],
                     blue=score_, red=0, score=score_)  # fmt: skip


@pytest.fixture
def registry(tmp_path: Path) -> CollectorRegistry:
    settings = settings_in(tmp_path)
    estate = write_estate(tmp_path / "estate.yaml", departments=3)
    (tmp_path / "metering.yaml").write_text(yaml.safe_dump({"at": "2026-10-31", "departments": {
        "d1": {"vcpu_used": 30, "ram_used_gb": 100, "storage_used_tb": 0.5},
        "d2": {"vcpu_used": 90, "ram_used_gb": 360},
    }}))  # fmt: skip
    model = load_scoring_model()
    with AssessmentStore(settings.store.url) as store:
        for made in (assessment("old", datetime(2025, 9, 1, tzinfo=UTC), 0),
                     assessment("new", datetime(2026, 10, 1, tzinfo=UTC), 3)):  # fmt: skip
            store.save(made, score(load_catalogue(3), made.results(), made.problems(), model))
    with History(settings.drills.history) as history:
        history.add(drill(datetime(2026, 9, 3, tzinfo=UTC), 20, 0.5))
        history.add(drill(datetime(2026, 10, 3, tzinfo=UTC), 35, 0.75))
    return build_registry(settings, estate=estate, metrics=ControlPlaneMetrics())


def test_department_use_against_quota_and_target(registry: CollectorRegistry) -> None:
    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("egovops_department_vcpu_used", department="d2") == 90
    assert value("egovops_department_memory_used_bytes", department="d1") == 100 * GIB
    assert value("egovops_department_storage_used_bytes", department="d1") == 0.5 * 1000**4
    ratio = "egovops_department_utilisation_ratio"
    assert [value(ratio, department="d2", resource=r) for r in ("vcpu", "memory")] == [0.9, 0.9]
    assert value(ratio, department="d1", resource="overall") == 0.275  # 0.3 and 0.25; no storage quota
    assert value(ratio, department="d1", resource="storage") is None
    assert value(ratio, department="d3", resource="vcpu") is None  # not metered: no series
    assert value("egovops_department_utilisation_target_ratio", resource="memory") == 0.4


def test_latest_assessment_and_drill(registry: CollectorRegistry) -> None:
    model = load_scoring_model()
    latest = assessment("new", datetime(2026, 10, 1, tzinfo=UTC), 3)
    expected = score(load_catalogue(3), latest.results(), latest.problems(), model)
    where = {"system": "系统1-1", "level": "3"}
    assert registry.get_sample_value("egovops_djcp_score", where) == expected.score
    assert registry.get_sample_value("egovops_djcp_band", {**where, "band": expected.band}) == 1
    assert (
        registry.get_sample_value("egovops_djcp_assessed_timestamp_seconds", where)
        == datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    )
    drill_of = {"scenario": "web-attack-chain"}
    assert registry.get_sample_value("egovops_drill_score", drill_of) == 35
    assert registry.get_sample_value("egovops_drill_coverage_ratio", drill_of) == 0.75
    assert registry.get_sample_value("egovops_drill_runs", drill_of) == 2


def test_every_new_label_is_bounded(registry: CollectorRegistry) -> None:
    names = set()
    for family in registry.collect():
        names.add(family.name)
        for sample in family.samples:
            assert not set(sample.labels) - ALLOWED_LABELS - {"le"}, sample
    assert {"egovops_department_utilisation_ratio", "egovops_department_utilisation_target_ratio",
            "egovops_djcp_score", "egovops_djcp_band", "egovops_drill_score",
            "egovops_drill_coverage_ratio"} <= names  # fmt: skip


def test_a_bad_metering_file_names_the_department(tmp_path: Path) -> None:
    from egovops.estate import parse_estate
    from monitors.departments import load_metering

    estate_file = write_estate(tmp_path / "estate.yaml", departments=2)
    bad = tmp_path / "metering.yaml"
    bad.write_text(yaml.safe_dump({"at": "2026-10-31", "departments": {"d9": {"vcpu_used": 1}}}))
    with pytest.raises(ValueError, match=r"departments \['d9'\] are not tenants of the estate synthetic"):
        load_metering(bad, parse_estate(estate_file.read_text(encoding="utf-8")))


def test_background_indicators_serve_the_last_figures_while_recomputing(tmp_path: Path) -> None:
    estate_file = write_estate(tmp_path / "estate.yaml")
    collector = IndicatorCollector(estate_file, background=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    assert collector.wait(60)
    labels = {"indicator": "ram_utilisation", "city": "测试市", "county": "", "department": ""}
    assert registry.get_sample_value("egovops_indicator_value", labels) == 0.25
    estate_file.write_text(estate_file.read_text().replace("ram_used_gb: 10000", "ram_used_gb: 20000"))
    later = time.time() + 5
    os.utime(estate_file, (later, later))
    registry.get_sample_value("egovops_indicator_value", labels)  # starts the refresh
    assert collector.wait(60)
    assert registry.get_sample_value("egovops_indicator_value", labels) == 0.5
