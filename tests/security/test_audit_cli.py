"""`egovops audit verify|export` on a real trail, intact and tampered with: an edited, deleted or
reordered line is named as the first bad one, and the export carries the chain head."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from egovops.audit import AuditTrail
from egovops.cli import audit as audit_cli
from egovops.cli.main import app
from tests.security.conftest import write_config


@pytest.fixture
def trail(tmp_path: Path) -> tuple[Path, AuditTrail]:
    config = write_config(tmp_path)
    log = AuditTrail(tmp_path / "var" / "audit.log")
    for n in range(1, 6):
        log.append(
            "analyst",
            "incident.note",
            f"incident/{n}",
            {"n": n},
            source="10.0.0.9",
            before={"notes": n - 1},
            after={"notes": n},
        )
    return config, log


def verify(config: Path, code: int) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["--config", str(config), "audit", "verify", "--json"])
    assert result.exit_code == code, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def rewrite(log: AuditTrail, change: Any) -> None:
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text("".join(change(lines)))


def test_intact_trail_verifies(trail: tuple[Path, AuditTrail]) -> None:
    config, log = trail
    answer = verify(config, 0)
    assert (answer["ok"], answer["entries"], answer["first_bad"]) == (True, 5, None)
    assert answer["head"] == list(log.records())[-1].hash


def test_edited_line_is_named(trail: tuple[Path, AuditTrail]) -> None:
    config, log = trail
    rewrite(
        log,
        lambda lines: [*lines[:2], lines[2].replace('"actor":"analyst"', '"actor":"mallory"'), *lines[3:]],
    )
    answer = verify(config, 1)
    assert (answer["ok"], answer["entries"], answer["first_bad"], answer["verified"]) == (False, 5, 3, 2)
    assert "edited" in answer["reason"]


def test_deleted_line_is_named(trail: tuple[Path, AuditTrail]) -> None:
    config, log = trail
    rewrite(log, lambda lines: [*lines[:2], *lines[3:]])
    answer = verify(config, 1)
    assert (answer["ok"], answer["entries"], answer["first_bad"]) == (False, 4, 3)
    assert "sequence 4 where 3 was due" in answer["reason"]


def test_reordered_lines_are_named(trail: tuple[Path, AuditTrail]) -> None:
    config, log = trail
    rewrite(log, lambda lines: [lines[0], lines[2], lines[1], *lines[3:]])
    answer = verify(config, 1)
    assert (answer["ok"], answer["first_bad"]) == (False, 2)


def test_provenance_is_inside_the_hash(trail: tuple[Path, AuditTrail]) -> None:
    config, log = trail
    rewrite(log, lambda lines: [lines[0].replace("10.0.0.9", "10.0.0.1"), *lines[1:]])
    assert verify(config, 1)["first_bad"] == 1


def test_export_carries_the_chain_head(trail: tuple[Path, AuditTrail], tmp_path: Path) -> None:
    config, log = trail
    out = tmp_path / "export.json"
    result = CliRunner().invoke(app, ["--config", str(config), "audit", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    records = list(log.records())
    assert document["head"] == records[-1].hash and document["ok"] is True
    assert [r["seq"] for r in document["records"]] == [1, 2, 3, 4, 5]
    assert document["records"][0]["detail"]["source"] == "10.0.0.9"
    assert document["records"][0]["detail"]["after"] == {"notes": 1}


def test_there_is_no_command_to_rewrite_the_trail() -> None:
    group = typer.main.get_command(audit_cli.app)
    assert isinstance(group, TyperGroup)
    assert sorted(group.commands) == ["export", "verify"]  # read-only, for every role
