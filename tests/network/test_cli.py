"""`egovops net plan` and `render` as scripts use them: the JSON contract, exports, exit codes."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
from typer.testing import CliRunner

from egovops.cli.main import app
from tests.network.helpers import TESTBED, VENDORS

runner = CliRunner()


def test_plan_json_contract_and_exports(tmp_path: Path) -> None:
    ledger, export = tmp_path / "ipam.json", tmp_path / "plan.csv"
    args = [
        "net",
        "plan",
        "--estate",
        str(TESTBED),
        "--ledger",
        str(ledger),
        "--save",
        "--export",
        str(export),
    ]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    data = orjson.loads(first.stdout)
    assert {"site", "level", "plane", "family", "prefix"} <= set(data["allocations"][0])
    assert data["new"] == len(data["allocations"]) == 60
    east = next(a for a in data["allocations"] if (a["site"], a["plane"], a["family"], a["role"]) ==
                ("east", "video", 6, "site"))  # fmt: skip
    assert (east["level"], east["prefix"]) == ("county", "2001:db8:2001::/48")
    assert all(c["ok"] for c in data["checks"])
    with export.open(encoding="utf-8") as rows:
        assert len(list(csv.DictReader(rows))) == 60
    again = orjson.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert again["new"] == 0 and again["allocations"] == data["allocations"]


def test_plan_reports_failed_checks_of_the_vendor_estate() -> None:
    result = runner.invoke(app, ["net", "plan", "--estate", str(VENDORS), "--json"])
    failed = {(c["check"], c["subject"]) for c in orjson.loads(result.stdout)["checks"] if not c["ok"]}
    assert ("warranty", "west-r1") in failed and ("access-rate", "budget-units") in failed


def test_bad_estate_is_one_clear_line_and_exit_5(tmp_path: Path) -> None:
    bad = tmp_path / "estate.yaml"
    bad.write_text(TESTBED.read_text(encoding="utf-8").replace("capacity: 1000}", "capacity: fast}", 1))
    result = runner.invoke(app, ["net", "plan", "--estate", str(bad), "--json"])
    assert result.exit_code == 5
    error = orjson.loads(result.stdout)["error"]
    assert (
        error.startswith(f"{bad}:")
        and "network.links.2.capacity" in error
        and "Traceback" not in result.output
    )


def test_render_writes_one_file_per_device(tmp_path: Path) -> None:
    result = runner.invoke(app, ["net", "render", "--estate", str(VENDORS), "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "city-core.cfg",
        "east-a-r1.cfg",
        "east-r1.cfg",
        "west-r1.cfg",
    ]
    assert orjson.loads(result.stdout)["west-r1"].startswith("sysname west-r1\n")
