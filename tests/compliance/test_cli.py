"""`egovops compliance catalogue` as scripts use it: the JSON contract of issue 8, tables, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from egovops.cli.common import Exit
from egovops.cli.compliance import CONTRACT
from egovops.cli.main import app
from secops.compliance.loader import CATALOGUE_DIR

runner = CliRunner()


def catalogue(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["compliance", "catalogue", *args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_json_contract_level_3_with_cloud() -> None:
    general, with_cloud = catalogue("--level", "3"), catalogue("--level", "3", "--cloud")
    assert (len(general), len(with_cloud)) == (211, 257)
    assert list(with_cloud[0])[: len(CONTRACT)] == list(CONTRACT)
    first = with_cloud[0]
    assert {k: first[k] for k in CONTRACT} == {
        "id": "L3-8.1.1.1-a", "category": "安全物理环境", "control_point": "物理位置选择",
        "text": "机房场地应选在具备防震、防风和防雨等能力的建筑内。",
        "level": 3, "responsibility": "platform",
    }
    cloud = [row for row in with_cloud if row["part"] == "cloud"]
    assert len(cloud) == 46 and all(row["id"].startswith("L3-8.2.") for row in cloud)
    default_accounts = next(row for row in with_cloud if row["id"] == "L3-8.1.4.2-b")
    assert default_accounts["assessment"] == "both" and "host.ssh.root_login" in default_accounts["checks"]
    assert {row["responsibility"] for row in with_cloud} == {"platform", "tenant", "shared"}


def test_level_2_and_the_table() -> None:
    assert len(catalogue("--level", "2")) == 135
    args = ["compliance", "catalogue", "--level", "2", "--cloud"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "L2-7.2.6.1-a" in result.stdout
    assert result.stdout.rstrip().endswith("level 2 + cloud: 164 items in 81 control points "
                                           "(general-l2.yaml 2026.11.1, cloud-l2.yaml 2026.11.1)")


def test_level_outside_the_catalogue_is_a_usage_error() -> None:
    result = runner.invoke(app, ["compliance", "catalogue", "--level", "4"])
    assert result.exit_code == Exit.USAGE


def test_malformed_data_exits_5_with_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, data)
    path = data / "general-l3.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("responsibility: platform", "responsibility: cloud", 1), encoding="utf-8")
    line = text[: text.index("responsibility: platform")].count("\n") + 1
    body = catalogue("--level", "3", "--data", str(data), code=Exit.INPUT)
    (problem,) = body["problems"]
    where = f"{path}:{line}: categories.0.responsibility"
    assert problem.startswith(f"{where}: Input should be 'platform', 'tenant' or 'shared'")
    result = runner.invoke(app, ["compliance", "catalogue", "--level", "3", "--data", str(data)])
    assert result.exit_code == Exit.INPUT
    assert f"{where}: Input should be" in result.stderr.splitlines()[1]
    assert "Traceback" not in result.output
