"""Scoring on hand-built step outcomes, the history's comparisons between runs, and the HTML / JSON exports
(also through `egovops drill history` and `egovops drill show`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egovops.cli.main import app
from secops.drills.history import History, HistoryError
from secops.drills.report import as_html, as_json
from secops.drills.scorecard import FalsePositive, Gap, Scorecard, StepOutcome, scorecard

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
runner = CliRunner()


def outcome(step: str, technique: str, expected: list[str], seen: dict[str, float], **extra: object) -> (
    StepOutcome
):
    return StepOutcome(id=step, technique=technique, expected=expected, detections=seen, **extra)


def card(outcomes: list[tuple[StepOutcome, float]], noise: int = 0, scenario: str = "chain") -> Scorecard:
    fps = [FalsePositive(rule="egovops_waf_match", title="WAF Rule Matched", severity="medium")] * noise
    return scorecard(scenario, START, START + timedelta(seconds=90), outcomes, fps)


def test_detected_means_every_expected_rule_within_the_deadline() -> None:
    result = card([
        (outcome("scan", "T1046", ["port_scan"], {"port_scan": 4.0}), 20),
        (outcome("exploit", "T1190", ["a", "b"], {"a": 2.0, "b": 6.5}), 20),
        (outcome("late", "T1110.001", ["ssh_brute_force"], {"ssh_brute_force": 31.0}), 30),
        (outcome("half", "T1059.004", ["a", "b"], {"a": 1.0}), 20),
    ])
    assert [(s.id, s.detected, s.time_to_detect_s) for s in result.steps] == [
        ("scan", True, 4.0), ("exploit", True, 6.5), ("late", False, None), ("half", False, None),
    ]
    assert result.techniques_executed == ["T1046", "T1059.004", "T1110.001", "T1190"]
    assert result.techniques_detected == ["T1046", "T1190"]
    assert result.coverage == 0.5


def test_red_and_blue_points() -> None:
    # detected at 4 s of 20: 10 + round(5 * 0.8) = 14; blocked and detected at 10 of 20: 5 + 10 + 2 (2.5
    # rounds to even) = 17; blocked but unseen: 5 for blue, nothing for red; unseen: 10 for red.
    result = card([
        (outcome("a", "T1046", ["port_scan"], {"port_scan": 4.0}), 20),
        (outcome("b", "T1190", ["egovops_waf_match"], {"egovops_waf_match": 10.0}, blocked=True), 20),
        (outcome("c", "T1190", ["egovops_waf_match"], {}, blocked=True), 20),
        (outcome("d", "T1053.003", [], {}), 10),
    ], noise=1)
    assert (result.blue, result.red, result.score) == (14 + 17 + 5 - 5, 10, 31 - 10)
    assert result.coverage == 0.3333  # T1190 counts as detected only when every step of it was
    assert [fp.rule for fp in result.false_positives] == ["egovops_waf_match"]


def test_a_step_that_expects_nothing_is_a_gap_in_an_attack_but_scores_nothing_when_benign() -> None:
    attack = card([(outcome("cron", "T1053.003", [], {}), 10)])
    assert (attack.steps[0].detected, attack.red, attack.coverage) == (False, 10, 0.0)
    benign = card([(outcome("admin", "T1078", [], {}, attack=False), 10)])
    assert (benign.blue, benign.red, benign.score, benign.coverage) == (0, 0, 0, 1.0)
    assert benign.techniques_executed == []
    noisy = card([(outcome("admin", "T1078", [], {}, attack=False), 10)], noise=2)
    assert (noisy.blue, noisy.score, len(noisy.false_positives)) == (-10, -10, 2)


def test_history_compares_each_run_with_the_previous_run_of_its_scenario(tmp_path: Path) -> None:
    good = outcome("a", "T1046", ["port_scan"], {"port_scan": 4.0})
    missed = outcome("a", "T1046", ["port_scan"], {})
    with History(tmp_path / "drills.db") as history:
        first = history.add(card([(missed, 20)]))
        other = history.add(card([(good, 20)], scenario="other"))
        second = history.add(card([(good, 20)]))
        runs = history.runs()
        assert [(r.id, r.scenario, r.score, r.score_delta, r.coverage, r.coverage_delta) for r in runs] == [
            (first.id, "chain", -10, None, 0.0, None),
            (other.id, "other", 14, None, 1.0, None),
            (second.id, "chain", 14, 24, 1.0, 1.0),
        ]
        assert [r.id for r in history.runs("chain")] == [first.id, second.id]
        assert second.id is not None and history.get(second.id) == second
        with pytest.raises(HistoryError, match="no drill run 99; `egovops drill history` lists them"):
            history.get(99)


def test_exports_carry_the_scorecard_and_escape_what_the_attacker_wrote() -> None:
    hostile = "<script>alert(1)</script>"
    result = card([
        (outcome("web.1", "T1190", ["web_attack_confirmed"], {},
                 gaps=[Gap(rule="web_attack_confirmed", events={"network.pcap": 3, "modsecurity.audit": 0},
                           fired=["egovops_net_http_sqli"])]), 20),
        (outcome("scan", "T1046", ["port_scan"], {"port_scan": 2.0}), 20),
    ]).model_copy(update={"false_positives": [FalsePositive(rule="r", title=hostile, severity="high")]})
    html = as_html(result)
    assert hostile not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="https://attack.mitre.org/techniques/T1190/"' in html
    assert "web_attack_confirmed" in html and "network.pcap=3" in html and "egovops_net_http_sqli" in html
    assert f'<strong id="score">{result.score}</strong>' in html
    assert '<strong id="coverage">50%</strong>' in html
    data = json.loads(as_json(result))
    assert data["coverage"] == 0.5 and [s["detected"] for s in data["steps"]] == [False, True]
    assert data["steps"][0]["gaps"][0]["events"] == {"network.pcap": 3, "modsecurity.audit": 0}


def test_history_and_show_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "var" / "drills.db"
    monkeypatch.setenv("EGOVOPS_DRILLS__HISTORY", str(db))
    with History(db) as history:
        first = history.add(card([(outcome("a", "T1046", ["port_scan"], {}), 20)]))
        second = history.add(card([(outcome("a", "T1046", ["port_scan"], {"port_scan": 1.0}), 20)]))
    listed = runner.invoke(app, ["drill", "history", "--scenario", "chain", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["score_delta"], r["coverage_delta"]) for r in rows] == [(first.id, None, None),
                                                                                (second.id, 25, 1.0)]
    target = tmp_path / "card.html"
    shown = runner.invoke(app, ["drill", "show", str(second.id), "--format", "html", "-o", str(target)])
    assert shown.exit_code == 0, shown.output
    assert "攻防演练成绩单" in target.read_text(encoding="utf-8")
    as_text = runner.invoke(app, ["drill", "show", str(first.id), "--format", "json"])
    assert json.loads(as_text.stdout)["id"] == first.id
    missing = runner.invoke(app, ["drill", "show", "42"])
    assert missing.exit_code == 2 and "no drill run 42" in missing.output
    names = runner.invoke(app, ["drill", "list", "--json"])
    assert "web-attack-chain" in json.loads(names.stdout)
