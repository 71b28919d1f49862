"""The loop on the real WAF: an attack from 127.0.0.66 is logged by ModSecurity, ingested into an
incident, and the approved `waf-block` makes the next request from that address fail while others pass;
undo lets it through again."""

from __future__ import annotations

from pathlib import Path

import pytest

from egovops.audit import AuditTrail
from egovops.cli.common import Exit
from tests.components.waf import Waf, WafFactory
from tests.response.helpers import cli, write_config

ATTACKER = "127.0.0.66"
HEADERS = b"Host: localhost\r\nAccept: */*\r\nUser-Agent: egovops-test\r\nConnection: close\r\n\r\n"
PLAIN = b"GET / HTTP/1.1\r\n" + HEADERS
SQLI = b"GET /?id=1%27%20OR%20%271%27=%271 HTTP/1.1\r\n" + HEADERS


@pytest.fixture(scope="session")
def blocking_waf(waf_factory: WafFactory) -> Waf:
    """Enforcing (CRS at paranoia 1 blocks) with the block-list rule over an empty list."""
    return waf_factory("Serial", "Native", 1, "On", blocklist=True)


def status(waf: Waf, source: str = "127.0.0.1") -> int:
    answer = waf.send(PLAIN, source=source)
    return int(answer.split(b" ", 2)[1])


def test_waf_block_closes_the_loop(blocking_waf: Waf, tmp_path: Path) -> None:
    waf = blocking_waf
    assert waf.blocklist is not None
    attacked = waf.send(SQLI, source=ATTACKER)
    config = write_config(
        tmp_path, {"waf-block": {"blocklist": str(waf.blocklist), "reload": waf.reload_command}}
    )
    cli(config, "ingest", str(waf.audit_log), "--format", "modsecurity")
    (incident,) = [i for i in cli(config, "incidents", "list") if ATTACKER in i["entities"].get("ip", [])]
    number = str(incident["id"])
    cli(config, "incidents", "transition", number, "notified", "--recipient", "网信办", "--by", "alice")

    dry = cli(config, "respond", "waf-block", "--incident", number, "--dry-run", "--as", "alice")
    after_dry_run = waf.blocklist.read_bytes()
    pending = cli(config, "respond", "waf-block", "--incident", number, "--as", "alice")
    own = cli(
        config, "respond", "waf-block", "--incident", number, "--approve", "--as", "alice", code=Exit.USAGE
    )
    before_approval = status(waf, ATTACKER)
    done = cli(config, "respond", "approve", str(pending["id"]), "--as", "bob")
    blocked, others = status(waf, ATTACKER), status(waf)
    listed = waf.blocklist.read_bytes()
    shown = cli(config, "incidents", "show", number)
    undone = cli(config, "respond", "undo", str(pending["id"]), "--as", "alice")
    unblocked = status(waf, ATTACKER)
    again = cli(config, "respond", "undo", str(pending["id"]), "--as", "alice", code=Exit.USAGE)

    assert attacked.startswith(b"HTTP/1.1 403")  # the CRS itself refused the injection
    assert after_dry_run == b""
    assert dry["changes"] == [
        f"{waf.blocklist}: add the line {ATTACKER}",
        f"if the file changed, reload Apache: {' '.join(waf.reload_command)}",
    ]
    assert dry["playbook"].endswith("playbooks/waf-block.yml") and dry["vars"]["state"] == "present"
    assert (pending["state"], pending["params"]["address"]) == ("pending", ATTACKER)
    assert own["error"].startswith(f"alice requested action {pending['id']} and cannot approve it too")
    assert before_approval == 200
    assert (done["state"], done["requested_by"], done["approved_by"]) == ("executed", "alice", "bob")
    assert (blocked, others, listed) == (403, 200, f"{ATTACKER}\n".encode())
    assert shown["state"] == "contained"
    assert shown["notes"][-1]["text"].startswith(
        f"response action {pending['id']} (waf-block, approved by bob)"
    )
    assert (undone["state"], undone["undone_by"], unblocked) == ("undone", "alice", 200)
    assert waf.blocklist.read_bytes() == b""
    assert again["error"].startswith(f"action {pending['id']} was already undone by alice")
    trail = AuditTrail(tmp_path / "audit.log")
    assert trail.verify().ok
    moved, *responses = trail.records()  # the 通报 by the CLI, then the action's steps
    assert (moved.actor, moved.action) == ("alice", "incident.transition")
    assert moved.detail["after"]["state"] == "notified"
    assert [(r.actor, r.action, r.detail["result"]) for r in responses] == [
        ("alice", "response.request", "pending approval"),
        ("alice", "response.approve", "refused: approver is the requester"),
        ("bob", "response.approve", "approved"),
        ("bob", "response.execute", "executed"),
        ("alice", "response.undo", "undone"),
    ]
