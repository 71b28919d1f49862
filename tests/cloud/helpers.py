"""Estates for the cloud tests: the small test city under a name of the test's own, so tests that share
one Keystone and Neutron never touch each other's tenants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from egovops.cli.main import app
from egovops.estate import Estate, parse_estate

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small.yaml"
REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "stacks"

runner = CliRunner()


def small_text(name: str, segment: int = 110, exit_network: str = "physnet1") -> str:
    """The test city as `name`; estates live on one cloud together only on their own provider segments
    (a VLAN id, and a physical network for the flat exit plane)."""
    text = SMALL.read_text(encoding="utf-8").replace("name: testcity", f"name: {name}")
    return text.replace("segment: 110", f"segment: {segment}").replace(
        "external: true, physical_network: physnet1", f"external: true, physical_network: {exit_network}"
    )


def small_estate(name: str = "testcity") -> Estate:
    return parse_estate(small_text(name), str(SMALL))


def write_small(tmp_path: Path, name: str, segment: int = 110, exit_network: str = "physnet1") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(small_text(name, segment, exit_network), encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, Any]:
    """Run `egovops ARGS --json` in process: the exit code and the parsed JSON document."""
    result = runner.invoke(app, [*args, "--json"])
    try:
        return result.exit_code, orjson.loads(result.stdout)
    except orjson.JSONDecodeError as exc:
        raise AssertionError(f"not JSON (exit {result.exit_code}): {result.output}") from exc
