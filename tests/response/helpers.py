"""Incidents to act for, the configuration file the CLI reads, and calling the CLI as scripts do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from egovops.cli.main import app
from secops.detection.alerts import Alert, alert_id
from secops.incidents import CaseStore, record_alerts

runner = CliRunner()
START = "2026-11-22T02:00:00.000000Z"


def open_incident(cases: CaseStore, *addresses: str, rule: str = "waf") -> int:
    """One incident whose alerts come from `addresses` (grouped by the shared user name)."""
    alerts = [
        Alert(
            id=alert_id(rule, {"source.ip": address}, START),
            rule_id=rule,
            title=f"attack from {address}",
            severity="high",
            entity={"source.ip": address, "user.name": "victim"},
            event_ids=[f"event-{address}"],
            tags=["attack.initial-access"],
            first_seen=START,
            last_seen=START,
            count=1,
            rule_type="sigma",
        )
        for address in addresses
    ]
    (number,) = record_alerts(cases, alerts)
    return number


def write_config(tmp_path: Path, kinds: dict[str, dict[str, Any]], modules: tuple[str, ...] = ()) -> Path:
    """egovops.toml with the store, detection state and audit trail under `tmp_path`."""
    lines = [
        "[store]", f"url = {json.dumps('sqlite:///' + str(tmp_path / 'egovops.db'))}",
        "[detection]", f"state = {json.dumps(str(tmp_path / 'detection.state'))}",
        "[response]", f"audit_log = {json.dumps(str(tmp_path / 'audit.log'))}",
        f"modules = {json.dumps(list(modules))}",
    ]  # fmt: skip
    for kind, options in kinds.items():
        lines.append(f"[response.kinds.{kind}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    path = tmp_path / "egovops.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(config: Path, *args: str, code: int = 0) -> Any:
    """`egovops --config CONFIG ARGS... --json`, its exit code checked, its JSON parsed."""
    result = runner.invoke(app, ["--config", str(config), *args, "--json"])
    assert result.exit_code == code, (result.output, result.exception)
    return json.loads(result.stdout)
