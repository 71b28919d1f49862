"""The plans' indicators from an estate: values, targets and their precedence, the CLI and its trend."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from egovops.cli.main import app
from egovops.estate import Target, load_estate
from monitors.indicators import (
    IndicatorCollector,
    IndicatorError,
    compute,
    current_target,
    definitions,
    load_figures,
    load_targets,
)
from tests.monitors.estates import write_estate

TODAY = date(2026, 11, 1)


@pytest.fixture
def estate_file(tmp_path: Path) -> Path:
    return write_estate(tmp_path / "estate.yaml", slow_towns=1)


def by_key(
    estate_file: Path, **kwargs: object
) -> dict[tuple[str, str, str], tuple[float | None, float | None]]:
    figures = compute(load_estate(estate_file), today=TODAY, **kwargs)  # type: ignore[arg-type]
    return {(r.id, r.county, r.department): (r.value, r.target) for r in figures.readings}


def test_every_indicator_of_the_table_is_computed(estate_file: Path) -> None:
    found = by_key(estate_file)
    assert {key[0] for key in found} == {d.id for d in definitions()}
    assert found[("extranet_access_rate", "", "")] == (0.8, 0.9)  # 16 of 20 budget units connected
    assert found[("compute_scale_vcpu", "", "")] == (10000.0, None)
    assert found[("ram_utilisation", "", "")] == (0.25, 0.4)  # 10000 of 40000 GB, target from the estate
    assert found[("on_cloud_rate", "", "d3")] == (0.5, 0.9)
    # 14 access sites (2 counties, 4 towns, 8 villages); town c1-t1 has 40M against a 100M floor
    assert found[("bandwidth_floor_compliance", "c1", "")] == (round(6 / 7, 6), 1.0)
    assert found[("bandwidth_floor_compliance", "c2", "")] == (1.0, 1.0)
    assert found[("ipv6_readiness", "", "")] == (1.0, 1.0)
    assert found[("crypto_assessment_completion", "", "d2")] == (1.0, 1.0)
    assert found[("monthly_active_rate", "", "")] == (None, 0.5)


def test_sites_below_their_floor_are_counted_per_county_and_level(estate_file: Path) -> None:
    figures = compute(load_estate(estate_file), today=TODAY)
    assert figures.below_floor == {("c1", "town"): 1}


def test_a_targets_file_overrides_the_estate_which_overrides_the_defaults(
    estate_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("targets:\n  extranet_access_rate: {value: 1.0, source: 'seed 001 Table 1 #12: 100%'}\n")
    found = by_key(estate_file, targets=load_targets(path))
    assert found[("extranet_access_rate", "", "")] == (0.8, 1.0)


def test_the_targets_file_beside_the_estate_is_found_without_naming_it(estate_file: Path) -> None:
    def access_target() -> tuple[float | None, str | None]:
        (reading,) = [r for r in load_figures(estate_file)[1].readings if r.id == "extranet_access_rate"]
        return reading.target, reading.target_source

    assert access_target()[0] == 0.9  # the estate's own
    estate_file.with_name("targets.yaml").write_text(
        "targets:\n  extranet_access_rate: {value: 1.0, source: 'seed 000 Table 1 row 17'}\n"
    )
    assert access_target() == (1.0, "seed 000 Table 1 row 17")


def test_the_target_due_next_is_the_current_one() -> None:
    targets = [
        Target(indicator="storage_used_tb", value=1000, due="2023-12-31", source="a"),
        Target(indicator="storage_used_tb", value=2400, due="2027", source="b"),
    ]
    assert current_target(targets, date(2023, 6, 1)).value == 1000  # type: ignore[union-attr]
    assert current_target(targets, TODAY).value == 2400  # type: ignore[union-attr]
    assert current_target(targets, date(2030, 1, 1)).value == 2400  # type: ignore[union-attr]


def test_a_wrong_targets_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("targets:\n  uptime: {value: 1, source: x}\n")
    with pytest.raises(IndicatorError, match=r"unknown indicators \['uptime'\]"):
        load_targets(path)
    path.write_text("targets:\n  ipv6_readiness: {value: -1, source: x}\n")
    with pytest.raises(IndicatorError, match=r"targets\.ipv6_readiness\.value"):
        load_targets(path)


def test_cli_json_lists_the_contract_fields(estate_file: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    args = ["indicators", "--estate", str(estate_file), "--history", str(history), "--json"]
    result = CliRunner().invoke(app, [*args, "--record"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert set(rows) == {d.id for d in definitions()}
    access = rows["extranet_access_rate"]
    assert {k: access[k] for k in ("name", "value", "target", "unit", "gap", "trend")} == {
        "name": "政务外网接入率", "value": 0.8, "target": 0.9, "unit": "ratio", "gap": -0.1, "trend": "—"
    }  # fmt: skip
    assert access["source"] == "seed 001 附件2 #12; seed 004 L169"
    # a later run compares with the recorded snapshot
    estate_file.write_text(estate_file.read_text().replace("vcpu_used: 2000", "vcpu_used: 3000"))
    rows = {row["id"]: row for row in json.loads(CliRunner().invoke(app, args).output)}
    assert rows["vcpu_used"]["trend"] == "↑ +1,000"
    assert rows["extranet_access_rate"]["trend"] == "→ +0.0%"


def test_cli_names_the_problem_of_a_bad_estate(tmp_path: Path) -> None:
    bad = tmp_path / "estate.yaml"
    bad.write_text("version: 1\nname: Bad Name\n")
    result = CliRunner().invoke(app, ["indicators", "--estate", str(bad), "--json"])
    assert result.exit_code == 5
    assert f"{bad}:2: name:" in json.loads(result.output)["error"]


def test_the_collector_follows_changes_to_the_estate(estate_file: Path) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(IndicatorCollector(estate_file))
    labels = {"indicator": "ram_utilisation", "city": "测试市", "county": "", "department": ""}
    assert registry.get_sample_value("egovops_indicator_value", labels) == 0.25
    assert registry.get_sample_value("egovops_indicator_target", labels) == 0.4
    estate_file.write_text(estate_file.read_text().replace("ram_used_gb: 10000", "ram_used_gb: 20000"))
    later = time.time() + 5
    os.utime(estate_file, (later, later))
    assert registry.get_sample_value("egovops_indicator_value", labels) == 0.5
    estate_file.write_text("not: [valid")  # a broken edit keeps the last good figures
    os.utime(estate_file, (later + 5, later + 5))
    assert registry.get_sample_value("egovops_indicator_value", labels) == 0.5
