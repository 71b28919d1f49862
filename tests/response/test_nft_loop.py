"""The loop on the real sshd: a password brute force from the attacker namespace raises the SSH brute
force incident; the approved `nft-deny` in sshd's namespace makes the attacker's next TCP connect fail;
undo deletes exactly that rule and the connect succeeds again."""

from __future__ import annotations

import json
from pathlib import Path

from egovops.audit import AuditTrail
from egovops.cli.common import Exit
from tests.components.sshd import SshdLab
from tests.response.helpers import cli, write_config


def chain_rules(lab: SshdLab) -> list[dict[str, object]]:
    listed = lab.server.run("nft", "--json", "--handle", "list", "chain", "inet", "egovops", "input")
    return [item["rule"] for item in json.loads(listed.stdout)["nftables"] if "rule" in item]


def test_nft_deny_closes_the_loop(sshd_lab: SshdLab, tmp_path: Path) -> None:
    lab = sshd_lab
    attacker = lab.attacker.address
    reachable = lab.connect_from_attacker()
    lab.brute_force(connections=3)  # nine wrong passwords within seconds
    config = write_config(tmp_path, {"nft-deny": {"namespace": lab.server.name}})
    cli(config, "ingest", str(lab.auth_log), "--format", "auth")
    brute = [a for a in cli(config, "alerts", "list") if a["rule_name"] == "ssh_brute_force"]
    number = str(brute[0]["incident_id"])

    ruleset = lab.server.run("nft", "list", "ruleset").stdout
    dry = cli(config, "respond", "nft-deny", "--incident", number, "--dry-run")
    after_dry_run = lab.server.run("nft", "list", "ruleset").stdout
    pending = cli(config, "respond", "nft-deny", "--incident", number, "--as", "alice")
    own = cli(config, "respond", "approve", str(pending["id"]), "--as", "alice", code=Exit.USAGE)
    done = cli(config, "respond", "approve", str(pending["id"]), "--as", "bob")
    rules = chain_rules(lab)
    denied = lab.connect_from_attacker(timeout=2)
    shown = cli(config, "incidents", "show", number)
    undone = cli(config, "respond", "undo", str(pending["id"]), "--as", "bob")
    rules_after_undo = chain_rules(lab)
    restored = lab.connect_from_attacker()
    again = cli(config, "respond", "undo", str(pending["id"]), code=Exit.USAGE)

    assert reachable.startswith("SSH-2.0-OpenSSH")
    assert brute[0]["entity"] == {"source.ip": attacker} and brute[0]["severity"] == "high"
    assert after_dry_run == ruleset == ""
    assert dry["changes"][-1] == (
        f"ip netns exec {lab.server.name} nft add rule inet egovops input ip saddr {attacker} drop "
        f"comment '\"egovops deny {attacker}\"'"
    )
    assert own["error"].startswith(f"alice requested action {pending['id']} and cannot approve it too")
    handle = done["outputs"]["handle"]
    assert (done["state"], done["approved_by"]) == ("executed", "bob")
    assert [(r["handle"], r["comment"]) for r in rules] == [(handle, f"egovops deny {attacker}")]
    assert denied.startswith("ERROR")  # the SYN is dropped: the connect times out
    assert shown["notes"][-1]["text"] == (
        f"response action {pending['id']} (nft-deny, approved by bob): {attacker} dropped by nftables "
        f"(inet egovops input) in network namespace {lab.server.name}"
    )
    assert (undone["state"], rules_after_undo) == ("undone", [])
    assert restored.startswith("SSH-2.0-OpenSSH")
    assert again["error"].startswith(f"action {pending['id']} was already undone by bob")
    assert AuditTrail(tmp_path / "audit.log").verify().records == 5
