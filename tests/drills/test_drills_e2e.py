"""The five shipped scenarios end to end on the real range: attacks from the attacker namespace, the real
WAF, sshd, auditd and packet capture, egovops' follower, rules and case store; every expected detection
within its deadline, no false positive, and a missed detection reported as a gap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egovops.cli.main import app
from egovops.config import load
from secops.drills.range import SHIPPED, Range
from secops.drills.runner import Drill
from secops.drills.scenario import find_scenario, parse_scenario, scenario_names
from secops.drills.scorecard import Scorecard
from tests.drills.conftest import host_links, leftovers, require_range_tools, work_dir


def run(name: str, rng: Range, work: Path) -> Scorecard:
    return Drill(find_scenario(name), rng, load(), work).run()


@pytest.mark.parametrize("name", scenario_names())
def test_every_expected_detection_within_its_deadline(name: str, drill_range: Range, tmp_path: Path) -> None:
    scenario = find_scenario(name)
    card = run(name, drill_range, tmp_path)
    deadlines = {step.id: step.deadline_s for step in scenario.steps}
    for step in card.steps:
        if step.expected:
            assert step.detected, (step.id, step.detections, step.gaps)
            assert step.time_to_detect_s is not None and step.time_to_detect_s <= deadlines[step.id]
            assert set(step.detections) == set(step.expected)
    assert card.false_positives == []
    assert not any(step.action["errors"] for step in card.steps)
    assert card.score == card.blue - card.red


def test_a_missed_detection_names_the_rule_and_what_the_pipeline_saw(
    drill_range: Range, tmp_path: Path
) -> None:
    """A step whose expected rule cannot fire (listing the crontab is not installing one): the gap names
    the rule, counts the events stored for the step per dataset, and says which rules fired instead."""
    scenario = parse_scenario(
        "name: cron-listing\n"
        "description: an expectation the attack does not meet\n"
        "steps:\n"
        "  - id: list-crontab\n"
        "    technique: T1053.003\n"
        "    action: {kind: ssh_guess, login: true, commands: ['crontab -l || true']}\n"
        "    expect: [egovops_cron_persistence]\n"
        "    deadline_s: 8\n",
        "test",
    )
    card = Drill(scenario, drill_range, load(), tmp_path).run()
    (step,) = card.steps
    assert not step.detected and not step.detections
    (gap,) = step.gaps
    assert gap.rule == "egovops_cron_persistence"
    assert gap.events["auditd.log"] >= 1 and gap.events["system.auth"] >= 1  # the session was seen
    assert "egovops_ssh_successful_login" in gap.fired
    assert card.coverage == 0.0 and card.red > 0


def test_drill_run_prints_the_scorecard_contract(
    drill_range: Range, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGOVOPS_DRILLS__HISTORY", str(tmp_path / "drills.db"))
    monkeypatch.setenv("EGOVOPS_DRILLS__WORK_DIR", str(tmp_path / "work"))
    argv = ["drill", "run", "scan-then-exploit", "--range-dir", str(drill_range.root), "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["scenario"] == "scan-then-exploit" and card["coverage"] == 1.0
    assert card["false_positives"] == [] and card["id"] == 1 and isinstance(card["score"], int)
    assert [(s["technique"], s["expected"], s["detected"]) for s in card["steps"]] == [
        ("T1046", ["port_scan"], True), ("T1190", ["egovops_waf_match", "scan_then_exploit"], True),
    ]
    assert all(0 <= s["time_to_detect_s"] <= 40 for s in card["steps"])
    exploit = card["steps"][1]
    assert exploit["time_to_respond_s"] > exploit["time_to_detect_s"]
    attacker = drill_range.address("attacker")
    assert exploit["response"].startswith(f"nft-deny: {attacker} dropped on the router")
    (trail,) = (tmp_path / "work").glob("scan-then-exploit-*/audit.log")
    actions = [json.loads(line)["action"] for line in trail.read_text(encoding="utf-8").splitlines()]
    assert actions == ["response.request", "response.approve", "response.execute", "response.undo"]
    history = CliRunner().invoke(app, ["drill", "history", "--json"])
    assert [r["scenario"] for r in json.loads(history.stdout)] == ["scan-then-exploit"]


def test_a_drill_killed_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    """`drill run --up` terminated (SIGTERM, as a CI timeout or `kill` sends) during its first step: the
    range it made is taken down — no namespace, link, process, audit rule or work directory remains. Its
    own range runs without auditd, which the session's range owns (one per machine)."""
    require_range_tools()
    description = tmp_path / "range.yaml"
    description.write_text(SHIPPED.read_text().replace("audit: {enabled: true}", "audit: {enabled: false}"))
    root, prefix, links = work_dir(), "egv-drillkill", host_links()
    env = {
        **os.environ, "EGOVOPS_DRILLS__HISTORY": str(tmp_path / "drills.db"),
        "EGOVOPS_DRILLS__WORK_DIR": str(tmp_path / "work"),
    }  # fmt: skip
    argv = [
        sys.executable, "-m", "egovops", "drill", "run", "ssh-brute-force-persistence", "--up", "--json",
        "--description", str(description), "--range-dir", str(root), "--prefix", prefix,
    ]  # fmt: skip
    drill = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not any((tmp_path / "work").glob("*/*")):  # the range is up and the drill's stores are open
            assert drill.poll() is None, drill.stderr.read() if drill.stderr else ""
            assert time.monotonic() < deadline, "the drill never began"
            time.sleep(0.1)
        time.sleep(3)  # into the brute force
        assert (root / "state.json").is_file() and leftovers(prefix, root) != []
        drill.send_signal(signal.SIGTERM)
        _, stderr = drill.communicate(timeout=60)
    finally:
        if drill.poll() is None:
            drill.kill()
    assert drill.returncode == 128 + signal.SIGTERM, stderr
    assert leftovers(prefix, root) == []
    assert host_links() <= links
    root.parent.rmdir()
