"""Request → approval by a second person → execute → undo, with the incident and the audit trail kept in
step; kinds plugged in by a configured module (tests/response/kinds.py) that change a file."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from egovops.audit import AuditTrail
from egovops.cli.common import Exit
from secops.incidents import CaseStore
from secops.incidents.lifecycle import transition
from secops.response.errors import OptionsError, ResponseError
from secops.response.settings import ResponseSettings
from secops.response.workflow import Responder
from tests.response.helpers import cli, open_incident, write_config

MODULES = ["tests.response.kinds"]
REPO = Path(__file__).resolve().parents[2]


def responder(cases: CaseStore, tmp_path: Path, **options: object) -> Responder:
    kinds = {
        name: {"path": str(tmp_path / f"{name}.txt"), **options} for name in ("watch-list", "file-block")
    }
    settings = ResponseSettings(audit_log=tmp_path / "audit.log", modules=MODULES, kinds=kinds)
    return Responder(cases, AuditTrail(settings.audit_log), settings)


def test_high_impact_waits_for_a_second_person(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7")
    transition(cases, number, "notified", "alice", recipients=["网信办"])
    respond = responder(cases, tmp_path)
    block = tmp_path / "file-block.txt"

    with pytest.raises(ResponseError, match="alice cannot approve a file-block that alice requests"):
        respond.request("file-block", number, "alice", approve=True)
    requested = respond.request("file-block", number, "alice")
    with pytest.raises(ResponseError, match="alice requested action 1 and cannot approve it too"):
        respond.approve(requested.id, "alice")
    assert not block.exists()
    done = respond.request("file-block", number, "bob", approve=True)  # bob approves alice's request

    incident = cases.incident(number)
    assert (requested.state, requested.requested_by, requested.approved_by) == ("pending", "alice", None)
    assert (done.id, done.state, done.requested_by, done.approved_by) == (1, "executed", "alice", "bob")
    assert done.approved_at is not None and done.executed_at is not None and done.outputs == {"lines": 1}
    assert block.read_text() == "203.0.113.7\n"
    assert incident.state == "contained"
    assert (incident.transitions[-1].actor, incident.transitions[-1].reason) == (
        "bob", f"response action 1: 203.0.113.7 listed in {block}"
    )  # fmt: skip
    assert [n.text for n in incident.notes] == [
        f"response action 1 (file-block, approved by bob): 203.0.113.7 listed in {block}"
    ]
    steps = [(r.actor, r.action, r.detail["result"]) for r in respond.audit.records()]
    assert steps == [
        ("alice", "response.approve", "refused: approver is the requester"),
        ("alice", "response.request", "pending approval"),
        ("alice", "response.approve", "refused: approver is the requester"),
        ("bob", "response.approve", "approved"),
        ("bob", "response.execute", "executed"),
    ]
    assert all(r.target == f"incident/{number}" for r in respond.audit.records())


def test_undo_once_and_only_once(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7")
    respond = responder(cases, tmp_path)
    action = respond.request("watch-list", number, "alice")  # low impact: runs at once

    undone = respond.undo(action.id, "carol")
    with pytest.raises(ResponseError, match=r"action 1 was already undone by carol at 2026-11-22T02:00:00"):
        respond.undo(action.id, "carol")

    assert (action.state, action.approved_by) == ("executed", None)
    assert (undone.state, undone.undone_by) == ("undone", "carol")
    assert (tmp_path / "watch-list.txt").read_text() == ""
    assert cases.incident(number).state == "new"  # watch-list does not contain; not notified anyway
    assert respond.audit.verify().records == 3


def test_same_action_twice_is_refused_until_undone(cases: CaseStore, tmp_path: Path) -> None:
    first = open_incident(cases, "203.0.113.7")
    respond = responder(cases, tmp_path)
    action = respond.request("watch-list", first, "alice")
    transition(cases, first, "benign", "alice", reason="a penetration test")
    second = open_incident(cases, "203.0.113.7", rule="other")  # the first is closed: a new incident

    with pytest.raises(ResponseError, match=r"already executed as action 1 \(incident 1, requested by alice"):
        respond.request("watch-list", second, "bob")
    respond.undo(action.id, "alice")
    again = respond.request("watch-list", second, "bob")

    assert (again.id, again.incident_id, again.state) == (2, second, "executed")
    assert [a.id for a in respond.actions(first)] == [1] and [a.id for a in respond.actions()] == [1, 2]


def test_a_failed_change_is_recorded(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7")
    respond = responder(cases, tmp_path, broken=True)

    with pytest.raises(Exception, match="is not writable"):
        respond.request("watch-list", number, "alice")

    (row,) = respond.actions(number)
    assert (row.state, row.executed_at) == ("failed", None)
    assert row.error == f"watch-list: {tmp_path / 'watch-list.txt'} is not writable"
    assert [r.detail["result"] for r in respond.audit.records()][-1].startswith("failed: watch-list:")
    assert cases.incident(number).notes == []


def test_parameters_come_from_the_incident(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7", "198.51.100.4")
    respond = responder(cases, tmp_path)

    with pytest.raises(ResponseError, match=r"several source addresses \(198.51.100.4, 203.0.113.7\)"):
        respond.preview("watch-list", number)
    with pytest.raises(ResponseError, match=r"192\.0\.2\.1 is not a source address of incident 1"):
        respond.preview("watch-list", number, "192.0.2.1")
    with pytest.raises(ResponseError, match=r"no response action 'teleport'; the kinds are: file-block, "):
        respond.preview("teleport", number)
    plan = respond.preview("watch-list", number, "198.51.100.4")

    assert plan.changes == (f"{tmp_path / 'watch-list.txt'}: add the line 198.51.100.4",)
    assert not (tmp_path / "watch-list.txt").exists() and respond.actions() == []


def test_bad_kind_options_name_the_section(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7")
    settings = ResponseSettings(audit_log=tmp_path / "a.log", kinds={"nft-deny": {"namespace": "bad name!"}})
    respond = Responder(cases, AuditTrail(settings.audit_log), settings)

    with pytest.raises(
        OptionsError, match=r"\[response.kinds.nft-deny\] in egovops.toml: namespace: Value error"
    ):
        respond.preview("nft-deny", number)
    with pytest.raises(
        OptionsError, match=r"\[response.kinds.nft-dney\] in egovops.toml: no such action kind"
    ):
        Responder(cases, AuditTrail(settings.audit_log), ResponseSettings(kinds={"nft-dney": {}}))


def test_cli_approval_and_undo_exit_codes(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7")
    config = write_config(tmp_path, {"file-block": {"path": str(tmp_path / "block.txt")}}, tuple(MODULES))

    kinds = cli(config, "respond", "kinds")
    dry = cli(config, "respond", "file-block", "--incident", str(number), "--dry-run", "--as", "alice")
    pending = cli(config, "respond", "file-block", "--incident", str(number), "--as", "alice")
    own = cli(config, "respond", "approve", "1", "--as", "alice", code=Exit.USAGE)
    done = cli(config, "respond", "approve", "1", "--as", "bob")
    listed = cli(config, "respond", "list", "--incident", str(number))
    cli(config, "respond", "undo", "1", "--as", "bob")
    again = cli(config, "respond", "undo", "1", "--as", "bob", code=Exit.USAGE)
    missing = cli(config, "respond", "undo", "9", code=Exit.USAGE)

    assert {k["kind"]: k["impact"] for k in kinds} == {
        "file-block": "high", "nft-deny": "high", "port-quarantine": "high", "router-acl": "high",
        "waf-block": "high", "watch-list": "low",
    }  # fmt: skip
    assert (dry["dry_run"], dry["step"], dry["changes"]) == (
        True,
        "execute",
        [f"{tmp_path}/block.txt: add the line 203.0.113.7"],
    )
    assert (pending["id"], pending["state"], pending["requested_by"]) == (1, "pending", "alice")
    assert own["error"].startswith("alice requested action 1 and cannot approve it too")
    assert (done["state"], done["approved_by"]) == ("executed", "bob")
    assert [(a["id"], a["state"]) for a in listed] == [(1, "executed")]
    assert again["error"].startswith("action 1 was already undone by bob")
    assert missing["error"] == "no response action 9; `egovops respond list` shows them"
    assert (tmp_path / "block.txt").read_text() == ""


def test_a_run_killed_half_way_is_settled_and_requested_again(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7")
    slow = {"watch-list": {"path": str(tmp_path / "watch.txt"), "hang": 60}}
    config = write_config(tmp_path, slow, tuple(MODULES))
    respond = responder(cases, tmp_path)
    command = [sys.executable, "-m", "egovops", "--config", str(config), "respond", "watch-list"]
    runner = subprocess.Popen([*command, "--incident", str(number), "--as", "alice"], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not (rows := respond.actions(number)) or rows[0].state != "running":
            assert runner.poll() is None and time.monotonic() < deadline, "the action never started running"
            time.sleep(0.1)
        assert rows[0].runner == f"{socket.gethostname()}:{runner.pid}"
    finally:
        runner.kill()
        runner.wait()

    (row,) = respond.actions(number)
    assert (row.state, row.runner) == ("failed", None)
    assert row.error is not None and row.error.startswith(
        f"execution interrupted: the process running it ({socket.gethostname()}:{runner.pid}) ended"
    )
    assert [r.action for r in respond.audit.records()][-1] == "response.interrupted"
    again = responder(cases, tmp_path).request("watch-list", number, "bob")
    assert (again.id, again.state) == (2, "executed")


def test_a_table_made_before_runners_were_recorded_gains_the_column(
    cases: CaseStore, db: Path, tmp_path: Path
) -> None:
    number = open_incident(cases, "203.0.113.7")
    responder(cases, tmp_path).request("watch-list", number, "alice")
    with sqlite3.connect(db) as old:
        old.execute("ALTER TABLE response_actions DROP COLUMN runner")

    respond = responder(cases, tmp_path)

    (row,) = respond.actions(number)
    assert (row.state, row.runner) == ("executed", None)
    assert respond.undo(row.id, "bob").state == "undone"
