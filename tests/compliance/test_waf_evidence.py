"""`soc.waf.blocking` on the real WAF (Apache + ModSecurity 2 + CRS): an SQL injection sent to an engine
that is On is intercepted and the items citing the check are 符合; the same attack against DetectionOnly
is logged but let through, and they are 不符合 with the transaction as evidence; the configuration
(`--waf-config`) agrees in both cases; with neither events nor a configuration the check cannot decide."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from egovops.cli.main import app
from secops.compliance.loader import load_catalogue
from tests.components.waf import WafFactory

SQLI = (b"GET /?id=1%27%20OR%20%271%27=%271 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
        b"User-Agent: egovops-test\r\nConnection: close\r\n\r\n")  # fmt: skip
CITING = {i.id for i in load_catalogue(3).items if "soc.waf.blocking" in i.checks}
runner = CliRunner()


def config(tmp_path: Path) -> Path:
    path = tmp_path / "egovops.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "egovops.db"}"\n'
        f'[response]\naudit_log = "{tmp_path / "audit.log"}"\n'
        f'[drills]\nhistory = "{tmp_path / "drills.db"}"\n',
        encoding="utf-8",
    )
    return path


def egovops(conf: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["--config", str(conf), *args, "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def waf_items(conf: Path, tmp_path: Path, *extra: str) -> dict[str, dict[str, Any]]:
    report = egovops(conf, "compliance", "assess", "--system", "门户", "--level", "3", "--no-host",
                     "--db", f"sqlite:///{tmp_path / 'a.db'}", *extra)  # fmt: skip
    return {i["id"]: i for i in report["items"] if i["id"] in CITING}


def waf_evidence(item: dict[str, Any]) -> list[str]:
    return [e["content"] for e in item["evidence"] if e["check"] == "soc.waf.blocking"]


@pytest.mark.component("apache")
@pytest.mark.parametrize(("engine", "result"), [("On", "符合"), ("DetectionOnly", "不符合")])
def test_the_waf_mode_decides_the_items(
    waf_factory: WafFactory, tmp_path: Path, engine: str, result: str
) -> None:
    waf = waf_factory("Serial", "Native", 1, engine)
    answer = waf.send(SQLI)
    assert answer.split(b" ", 2)[1] == (b"403" if engine == "On" else b"200")
    conf = config(tmp_path)
    egovops(conf, "ingest", str(waf.audit_log), "--format", "modsecurity")

    from_events = waf_items(conf, tmp_path)
    assert CITING and {i["result"] for i in from_events.values()} == {result}
    (content,) = set(waf_evidence(next(iter(from_events.values()))))
    if engine == "On":
        assert "intercepted: 1;" in content and "of them attacks" in content
    else:
        assert "intercepted: 0;" in content and "-- not met: attacks not intercepted:" in content
        assert "GET /?id=1%27%20OR%20%271%27=%271 → 200; rules 942100" in content
        assert content.endswith("(engine DETECTION_ONLY)")

    with_config = waf_items(conf, tmp_path, "--waf-config", str(waf.root / "httpd.conf"))
    assert {i["result"] for i in with_config.values()} == {result}
    shown = "\n".join(waf_evidence(next(iter(with_config.values()))))
    # the recommended file's DetectionOnly is read first (Include), the httpd.conf's own directive wins
    assert re.search(
        rf"recommended:\d+: SecRuleEngine DetectionOnly\n\S+/httpd.conf:\d+: SecRuleEngine {engine}\n", shown
    )


def test_no_events_and_no_configuration_stay_pending(tmp_path: Path) -> None:
    items = waf_items(config(tmp_path), tmp_path)
    assert {i["result"] for i in items.values()} == {"不适用"}
    item = next(iter(items.values()))
    notes = [e["content"] for e in item["evidence"]]
    assert any("soc.waf.blocking not judged" in n for n in notes)
    assert any("cannot decide: no ModSecurity transactions in the period" in n for n in notes)


def test_a_configuration_without_the_engine_directive_is_not_judged(tmp_path: Path) -> None:
    (tmp_path / "site.conf").write_text('<VirtualHost *:80>\n  Include "rules/*.conf"\n</VirtualHost>\n')
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.conf").write_text('SecRule ARGS "@rx x" "id:1,deny"\n')
    items = waf_items(config(tmp_path), tmp_path, "--no-soc", "--waf-config", str(tmp_path / "site.conf"))
    notes = [e["content"] for e in next(iter(items.values()))["evidence"]]
    assert any("no SecRuleEngine directive in" in n for n in notes)
    (tmp_path / "rules" / "b.conf").write_text("SecRuleEngine Off\n")
    items = waf_items(config(tmp_path), tmp_path, "--no-soc", "--waf-config", str(tmp_path / "site.conf"))
    assert {i["result"] for i in items.values()} == {"不符合"}
    (content,) = waf_evidence(next(iter(items.values())))
    assert content.endswith(
        "b.conf:1: SecRuleEngine Off\n-- not met: the effective SecRuleEngine is Off, not On"
    )
