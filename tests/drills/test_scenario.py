"""Scenario files: the shipped five load, every mistake is reported at its file and line, and the
attacker's actions report what the defence answered (run here against loopback servers of the test)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from secops.drills.actions import HttpAction, PayloadSet, PortScanAction, Request, Target, execute
from secops.drills.scenario import ScenarioError, find_scenario, load_scenario, parse_scenario, scenario_names
from tests.components import corpus

GOOD = """\
name: tiny
description: one step
steps:
  - id: guess
    technique: T1110.001
    action: {kind: ssh_guess, wrong: 3, login: false}
    expect: [ssh_brute_force]
    deadline_s: 20
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "drill.yaml")
    return caught.value.problems


def test_the_five_scenarios_of_the_issue_ship_and_load() -> None:
    names = scenario_names()
    assert names == [
        "benign-admin",
        "scan-then-exploit",
        "slow-ssh-brute-force",
        "ssh-brute-force-persistence",
        "web-attack-chain",
    ]
    chain = find_scenario("web-attack-chain")
    assert [s.id for s in chain.steps] == ["scan", "sql-injection", "webshell-upload", "command-execution"]
    assert [s.technique for s in chain.steps] == ["T1595.002", "T1190", "T1505.003", "T1059.004"]
    benign = find_scenario("benign-admin")
    assert benign.benign and benign.expected() == set()
    assert find_scenario("slow-ssh-brute-force").steps[0].expect == ["ssh_time_based_bf"]
    assert "scan_then_exploit" in find_scenario("scan-then-exploit").expected()


def test_a_scenario_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD, encoding="utf-8")
    scenario = find_scenario(str(path))
    assert scenario.name == "tiny" and scenario.steps[0].action.kind == "ssh_guess"


def test_unknown_expected_rule_is_named_at_its_line() -> None:
    text = GOOD.replace(
        "expect: [ssh_brute_force]", "expect:\n      - ssh_brute_force\n      - ssh_brute_farce"
    )
    assert problems(text) == [
        "drill.yaml:9: steps.0.expect.1: no built-in rule 'ssh_brute_farce' (`egovops rules list` names them)"
    ]


def test_a_step_may_respond_with_the_nft_deny_action_only() -> None:
    responding = GOOD.replace("    deadline_s: 20\n", "    deadline_s: 20\n    respond: nft-deny\n")
    assert parse_scenario(responding, "drill.yaml").steps[0].respond == "nft-deny"
    assert problems(responding.replace("nft-deny", "reboot"))[0].startswith(
        "drill.yaml:9: steps.0.respond: Input should be 'nft-deny'"
    )


def test_rules_may_be_named_by_id() -> None:
    text = GOOD.replace("ssh_brute_force", "74202c58-bd8a-59ed-a832-6394148dfd7b")
    assert parse_scenario(text, "drill.yaml").steps[0].expect == ["74202c58-bd8a-59ed-a832-6394148dfd7b"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("technique: T1110.001", "technique: T110", "drill.yaml:5: steps.0.technique: String should match"),
        ("kind: ssh_guess", "kind: telnet", "drill.yaml:6: steps.0.action: Input tag 'telnet'"),
        (
            "    deadline_s: 20\n",
            "",
            "drill.yaml:4: steps.0.deadline_s: Field required (add it; docs/drills.md",
        ),
        (
            "deadline_s: 20",
            "deadline_s: 0",
            "drill.yaml:8: steps.0.deadline_s: Input should be greater than 0",
        ),
        ("wrong: 3", "wrong: 3, colour: red", "drill.yaml:6: steps.0.action.ssh_guess.colour: Extra inputs"),
    ],
)
def test_mistakes_are_reported_at_file_and_line(old: str, new: str, expected: str) -> None:
    found = problems(GOOD.replace(old, new))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_duplicate_steps_benign_with_expectations_and_empty_files_are_refused() -> None:
    twice = GOOD + GOOD[GOOD.index("  - id: guess") :]
    assert problems(twice) == ["drill.yaml:1: (top): step id 'guess' is used twice (give each step its own)"]
    benign = GOOD.replace("description: one step", "description: one step\nbenign: true")
    assert "a benign scenario expects no detection" in problems(benign)[0]
    assert problems("") == [
        "drill.yaml:1: the file is empty (start from a scenario in "
        f"{Path(find_scenario.__code__.co_filename).with_name('scenarios')})"
    ]
    assert problems("steps: [\n")[0].startswith("drill.yaml:2: not valid YAML")


def test_unreadable_and_unknown_scenarios(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing.yaml: cannot read: No such file"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(
        ScenarioError, match=r"no scenario 'nope'; `egovops drill list` names them: benign-admin"
    ):
        find_scenario("nope")


def test_payload_sets_are_read_in_place_from_the_crs_corpus() -> None:
    corpus("crs-regression")
    requests = PayloadSet(file="REQUEST-942-APPLICATION-ATTACK-SQLI/942100.yaml", limit=2).requests()
    assert [(r.method, r.path, r.body) for r in requests] == [
        ("POST", "/", "var=1234 OR 1=1"),
        ("POST", "/", "var=-1839' or '1'='1"),
    ]
    assert all("Host" not in r.headers for r in requests)  # the range's own host is used
    text = GOOD.replace(
        "action: {kind: ssh_guess, wrong: 3, login: false}",
        "action: {kind: http, payloads: [{file: ../../etc/passwd}]}",
    )
    assert "give a path relative to" in problems(text)[0]
    assert problems(text)[0].startswith("drill.yaml:6: steps.0.action.http.payloads.0.file")


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(403 if self.path.startswith("/blocked") else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_http_action_counts_what_the_defence_answered(web: int) -> None:
    target = Target(addresses={"web": "127.0.0.1"}, web_url=f"http://127.0.0.1:{web}/",
                    ssh_user="drill", ssh_password="unused-here")  # fmt: skip
    action = HttpAction(
        requests=[Request(path="/search?q=x' union select 1--"), Request(path="/blocked?a=1")]
    )
    result = execute(action, target)
    assert (result.attempts, result.succeeded, result.blocked, result.refused) == (2, 1, 1, 0)
    assert result.statuses == {"200": 1, "403": 1}
    gone = execute(action, target.model_copy(update={"web_url": f"http://127.0.0.1:{_closed_port()}/"}))
    assert (gone.refused, gone.statuses) == (2, {"refused": 2})


def test_port_scan_tells_open_from_closed(web: int) -> None:
    closed = _closed_port()
    target = Target(
        addresses={"web": "127.0.0.1"}, web_url="http://127.0.0.1/", ssh_user="d", ssh_password="p"
    )
    result = execute(PortScanAction(hosts=["web"], ports=[web, closed]), target)
    assert (result.attempts, result.succeeded, result.refused) == (2, 1, 1)
    assert result.outputs == [f"127.0.0.1:{web} open"]
