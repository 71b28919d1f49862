"""The built-in rule pack for a city SOC: what every rule carries, its fixtures, real logs, and the CLI."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from egovops.cli.common import Exit
from egovops.cli.rules import app
from secops.detection.fixtures import fixture_files, run_fixtures
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from secops.ingest.pipeline import Ingestor
from secops.store import open_store
from tests.components import corpus

PACK = RuleSet.load([BUILTIN_RULES])
OURS = [rule for rule in PACK.rules if not Path(rule.ref.path).name.startswith("corr_")]
NAMES = {
    "egovops_waf_match",
    "egovops_ids_alert",
    "egovops_net_http_scanner",
    "egovops_net_http_sqli",
    "egovops_net_dns_suspicious",
    "egovops_ssh_failed_login",
    "egovops_ssh_successful_login",
    "egovops_exec_from_tmp",
    "egovops_download_execute",
    "egovops_new_user_or_sudoers",
    "egovops_cron_persistence",
    "egovops_new_user_auth",
    "egovops_audit_rules_deleted",
    "egovops_web_script_request",
    "egovops_webroot_file_write",
}


def test_pack_loads_completely() -> None:
    assert PACK.failed == []
    assert {rule.ref.name for rule in OURS} == NAMES


@pytest.mark.parametrize("name", sorted(NAMES))
def test_rule_has_name_attack_technique_level_and_fixture(name: str) -> None:
    rule = next(r for r in OURS if r.ref.name == name)
    assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", tag) for tag in rule.ref.tags)
    assert any(re.fullmatch(r"attack\.[a-z-]+", tag) and not tag[7:8].isdigit() for tag in rule.ref.tags)
    assert rule.ref.level in ("informational", "low", "medium", "high", "critical")
    assert fixture_files([rule.ref.path]), f"no fixture beside {rule.ref.path}"


def test_fixtures_pass() -> None:
    results = run_fixtures(PACK, [BUILTIN_RULES])
    ours = {r.rule: r for r in results if r.rule in NAMES}
    assert set(ours) == NAMES
    assert [(r.rule, r.failures) for r in ours.values() if not r.ok] == []
    assert all(r.passed >= 2 for r in ours.values())


def test_a_failing_fixture_is_reported(tmp_path: Path) -> None:
    rule = tmp_path / "r.yml"
    rule.write_text((BUILTIN_RULES / "ssh_failed_login.yml").read_text())
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "r.yml").write_text(
        "rule: egovops_ssh_failed_login\n"
        "match:\n  - {format: auth, log: 'Nov 22 10:02:00 web1 sshd[1]: Accepted password for a "
        "from 1.2.3.4 port 1 ssh2'}\n"
        "no_match:\n  - {format: auth, log: 'Nov 22 10:02:00 web1 sshd[1]: Failed password for a "
        "from 1.2.3.4 port 1 ssh2'}\n"
    )
    (result,) = run_fixtures(RuleSet.load([tmp_path]), [tmp_path])
    line = "Nov 22 10:02:00 web1 sshd[1]: {} password for a from 1.2.3.4 port 1 ssh2"
    assert result.failures == [
        f"match: did not fire on {line.format('Accepted')!r}",
        f"no_match: fired on {line.format('Failed')!r}",
    ]


def ingest(tmp_path: Path, *paths: Path) -> list[dict[str, Any]]:
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        report = Ingestor(store).run(paths)
        assert not report.errors, report.errors
        return list(store.export())
    finally:
        store.close()


def ours_fired(docs: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(ref.name) for d in docs for ref in PACK.match(d) if ref.name in NAMES)


def test_real_logs(tmp_path: Path) -> None:
    hub = corpus("crowdsec-hub", ".tests")
    data = Path(__file__).parents[1] / "data"
    docs = ingest(
        tmp_path,
        hub / "ssh-slow-bf" / "ssh-slow-bf.log",
        hub / "sshd-success-logs" / "sshd-success-logs.log",
        hub / "auditd-postexploit-exec-from-net" / "auditd-postexploit-exec-from-net.log",
        hub / "suricata-eve-detect" / "suricata-eve-detect.log",
        corpus("go-libaudit", "auparse", "testdata", "audit-rhel7.log"),
        data / "suricata",
        data / "modsecurity",
    )
    assert ours_fired(docs) == {
        "egovops_ssh_failed_login": 22,
        "egovops_ssh_successful_login": 4,
        "egovops_exec_from_tmp": 1,
        "egovops_ids_alert": 7,
        "egovops_new_user_or_sudoers": 2,
        "egovops_waf_match": 8,
    }
    tmp_exec = next(d for d in docs if any(r.name == "egovops_exec_from_tmp" for r in PACK.match(d)))
    assert tmp_exec["process"]["executable"].startswith("/tmp/")


runner = CliRunner()


def test_cli_check_corpus_json() -> None:
    result = runner.invoke(app, ["check", str(corpus("sigma", "rules")), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["loaded"], report["failed"]) == (80, 0)
    assert all(row["status"] == "loaded" and row["reason"] is None for row in report["rules"])


def test_cli_check_names_the_reason_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        "title: t\nlogsource: {category: webserver}\ndetection:\n  s: {cs-nonsense: x}\n  condition: s\n"
    )
    result = runner.invoke(app, ["check", str(tmp_path), "--json"])
    assert result.exit_code == int(Exit.PARTIAL)
    report = json.loads(result.output)
    assert report["failed"] == 1
    assert report["rules"][0]["reason"] == "no field mapping for field 'cs-nonsense' in logsource webserver"


def test_cli_missing_path_is_an_input_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nowhere"), "--json"])
    assert result.exit_code == int(Exit.INPUT)
    assert "no such file" in json.loads(result.output)["error"]


def test_cli_test_and_list() -> None:
    tested = runner.invoke(app, ["test", "--json"])
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.output)["failed"] == 0
    listed = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert {row["name"] for row in listed["rules"]} >= NAMES
