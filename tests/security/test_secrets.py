"""Sealed secrets: the file holds no plaintext, a wrong key fails clearly, rotation re-seals under a new
key, `list` shows names only, and no API answer ever carries a value."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from egovops.cli.main import app
from egovops.config import load
from egovops.security.roles import Role
from egovops.security.sealed import SecretBox, load_key
from tests.security.conftest import Plane, write_config

VALUE = "Router-R1-enable-5ecret!"


def egovops(config: Path, *args: str, stdin: str | None = None, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["--config", str(config), "secrets", *args, "--json"], input=stdin)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("EGOVOPS_SECRET_KEY", raising=False)
    return write_config(tmp_path)


def test_sealed_file_holds_no_plaintext_and_list_shows_names(config: Path, tmp_path: Path) -> None:
    assert egovops(config, "set", "router-r1", stdin=VALUE + "\n") == {"name": "router-r1", "sealed": True}
    egovops(config, "set", "cloud-admin", stdin="another value")
    sealed = (tmp_path / "var" / "secrets.sealed.json").read_bytes()
    assert VALUE.encode() not in sealed and b"another value" not in sealed
    assert json.loads(sealed)["cipher"] == "SM4-GCM"
    assert oct((tmp_path / "var" / "secrets.key").stat().st_mode & 0o777) == "0o600"
    listed = egovops(config, "list")
    assert [item["name"] for item in listed] == ["cloud-admin", "router-r1"]
    assert VALUE not in json.dumps(listed)
    settings = load(config).security
    assert SecretBox(settings.secrets_file, load_key(settings.key_file)).reveal("router-r1") == VALUE
    assert VALUE not in (tmp_path / "var" / "audit.log").read_text()


def test_wrong_key_fails_clearly(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    egovops(config, "set", "router-r1", stdin=VALUE)
    monkeypatch.setenv("EGOVOPS_SECRET_KEY", "00" * 16)
    answer = egovops(config, "list", code=3)
    assert "sealed under another key than the one in EGOVOPS_SECRET_KEY" in answer["error"]
    monkeypatch.setenv("EGOVOPS_SECRET_KEY", "not hex")
    assert "32 hex digits" in egovops(config, "list", code=3)["error"]


def test_an_altered_value_does_not_open(config: Path, tmp_path: Path) -> None:
    egovops(config, "set", "router-r1", stdin=VALUE)
    egovops(config, "set", "other", stdin="x" * len(VALUE))
    path = tmp_path / "var" / "secrets.sealed.json"
    data = json.loads(path.read_text())
    data["secrets"]["router-r1"]["sealed"] = data["secrets"]["other"]["sealed"]  # moved from another name
    data["secrets"]["router-r1"]["nonce"] = data["secrets"]["other"]["nonce"]
    path.write_text(json.dumps(data))
    settings = load(config).security
    with pytest.raises(ValueError, match="does not open under the key"):
        SecretBox(settings.secrets_file, load_key(settings.key_file)).reveal("router-r1")


def test_rotate_reseals_under_a_new_key(config: Path, tmp_path: Path) -> None:
    egovops(config, "set", "router-r1", stdin=VALUE)
    key_file = tmp_path / "var" / "secrets.key"
    old_key, old_sealed = key_file.read_text(), (tmp_path / "var" / "secrets.sealed.json").read_text()
    answer = egovops(config, "rotate")
    assert answer["rotated"] == 1 and answer["env_key_stale"] is False
    assert key_file.read_text() != old_key
    assert (tmp_path / "var" / "secrets.sealed.json").read_text() != old_sealed
    assert not key_file.with_name("secrets.key.new").exists()
    settings = load(config).security
    assert SecretBox(settings.secrets_file, load_key(settings.key_file)).reveal("router-r1") == VALUE
    os.environ["EGOVOPS_SECRET_KEY"] = old_key.strip()
    try:
        assert egovops(config, "list", code=3)["error"].startswith(
            f"{settings.secrets_file}: sealed under another key"
        )
    finally:
        del os.environ["EGOVOPS_SECRET_KEY"]


def test_set_needs_a_value_on_stdin(config: Path) -> None:
    assert "no value on standard input" in egovops(config, "set", "empty", stdin="", code=2)["error"]


def test_no_api_answer_carries_a_secret(plane: Plane) -> None:
    settings = plane.settings.security
    SecretBox(settings.secrets_file, load_key(settings.key_file, create=True)).seal("router-r1", VALUE)
    key = settings.key_file.read_text().strip()
    paths = [p for p, ops in plane.app.openapi()["paths"].items() if "get" in ops and "{" not in p]
    assert "/api/audit" in paths
    for role in (Role.ADMIN, Role.AUDITOR, Role.ANALYST):
        headers = {"Authorization": f"Bearer {plane.tokens[role]}"}
        for path in [*paths, "/openapi.json"]:
            body = requests.get(f"{plane.url}{path}", headers=headers, timeout=60).text
            assert VALUE not in body and key not in body, f"{path} as {role.value}"
