"""`egovops users` and `egovops tokens` as the issue's contract has them, and their audit records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from egovops.audit import AuditTrail
from egovops.cli.main import app
from egovops.config import load
from egovops.security.store import SecurityStore
from tests.security.conftest import PASSWORD, write_config


def egovops(config: Path, *args: str, stdin: str | None = None, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["--config", str(config), *args, "--json"], input=stdin)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_users_and_tokens_through_the_cli(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    added = egovops(
        config, "users", "add", "li.wei", "--role", "analyst", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert (added["name"], added["role"], added["locked"]) == ("li.wei", "analyst", False)
    assert (
        "exists"
        in egovops(
            config,
            "users",
            "add",
            "li.wei",
            "--role",
            "admin",
            "--password-stdin",
            stdin=PASSWORD + "\n",
            code=2,
        )["error"]
    )
    assert (
        "at least 12"
        in egovops(
            config, "users", "add", "zhao", "--role", "auditor", "--password-stdin", stdin="short\n", code=2
        )["error"]
    )
    settings = load(config)
    store = SecurityStore(settings.security.state_dir, settings.security)
    try:
        assert store.authenticate("li.wei", PASSWORD).role.value == "analyst"
    finally:
        store.close()

    created = egovops(config, "tokens", "create", "soar-sync", "--role", "auditor")
    assert created["token"].startswith("egv_") and created["role"] == "auditor"
    listed = egovops(config, "tokens", "list")
    assert [t["name"] for t in listed] == ["soar-sync"] and created["token"] not in json.dumps(listed)
    assert egovops(config, "tokens", "revoke", "soar-sync") == {"name": "soar-sync", "revoked": True}
    assert egovops(config, "users", "remove", "li.wei") == {"name": "li.wei", "removed": True}
    assert egovops(config, "users", "list") == []

    trail = AuditTrail(settings.response.audit_log)
    assert [r.action for r in trail.records()] == ["user.add", "token.create", "token.revoke", "user.remove"]
    assert all(r.detail["source"] == "cli" for r in trail.records())
    assert PASSWORD not in settings.response.audit_log.read_text()
    assert created["token"] not in settings.response.audit_log.read_text()
