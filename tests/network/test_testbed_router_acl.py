"""The `router-acl` response kind (named to run after test_testbed.py, whose dry run needs routers not yet
configured): on the real test bed, traffic from a town's LAN through the city's
boundary router (city-biz) flows, stops once the approved action denies its source, and flows again
after undo, while another source through the same router is never affected; the vendor devices' ACL
lines in the dry run; options errors that say what to set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from egovops.audit import AuditTrail
from egovops.cli.common import Exit
from network.intent import ends
from network.push import Credentials, PushOptions, push
from network.testbed import USER, Range
from secops.incidents import CaseStore, open_cases
from secops.response.action import Target
from secops.response.router_acl import RouterAcl, RouterAclOptions
from tests.incidents.helpers import FakeClock
from tests.network.helpers import TESTBED, VENDORS, planned
from tests.response.helpers import cli, open_incident, write_config

BOUNDARY = "city-biz"


def gateway(site: str, family: int = 4) -> str:
    _, plan = planned(TESTBED)
    return str(ends(plan.lookup("biz", family, "segment", site))[0].ip)


@pytest.fixture(scope="module")
def routed(frr_testbed: Range) -> Range:
    """The test bed with the estate pushed and OSPF converged (a no-op when test_testbed already did)."""
    net, plan = planned(TESTBED)
    creds = Credentials(USER, frr_testbed.password)
    results = push(net, plan, creds, PushOptions(commit=True, workers=10))
    assert [r.device for r in results if r.failed] == [], [r.error for r in results if r.failed]
    return frr_testbed


@pytest.fixture
def cases(tmp_path: Path) -> Iterator[CaseStore]:
    store = open_cases(f"sqlite:///{tmp_path / 'egovops.db'}", clock=FakeClock())
    yield store
    store.close()


def reaches(bed: Range, device: str, source: str, target: str) -> bool:
    return bed.run(device, "ping", "-c", "1", "-W", "2", "-I", source, target).returncode == 0


def forward_rules(bed: Range) -> list[dict[str, object]]:
    listed = bed.run(BOUNDARY, "nft", "--json", "--handle", "list", "chain", "inet", "egovops", "forward")
    if listed.returncode != 0:
        return []
    return [item["rule"] for item in json.loads(listed.stdout)["nftables"] if "rule" in item]


def test_router_acl_denies_through_the_boundary_router_and_undo_restores(
    routed: Range, cases: CaseStore, tmp_path: Path
) -> None:
    bed = routed
    attacker, bystander, target = gateway("east-a"), gateway("east"), gateway("west-a")
    number = open_incident(cases, attacker)
    options = {"estate": str(TESTBED), "device": BOUNDARY, "testbed": str(bed.root)}
    config = write_config(tmp_path, {"router-acl": options})
    namespace = bed.netns(BOUNDARY)

    before = reaches(bed, "east-a-biz", attacker, target)
    ruleset = bed.run(BOUNDARY, "nft", "list", "ruleset").stdout
    dry = cli(config, "respond", "router-acl", "--incident", str(number), "--dry-run")
    after_dry_run = bed.run(BOUNDARY, "nft", "list", "ruleset").stdout
    pending = cli(config, "respond", "router-acl", "--incident", str(number), "--as", "alice")
    done = cli(config, "respond", "approve", str(pending["id"]), "--as", "bob")
    rules = forward_rules(bed)
    denied = reaches(bed, "east-a-biz", attacker, target)
    others = reaches(bed, "east-biz", bystander, target)
    undone = cli(config, "respond", "undo", str(pending["id"]), "--as", "bob")
    restored = reaches(bed, "east-a-biz", attacker, target)

    assert before and not denied and others and restored
    assert after_dry_run == ruleset
    assert dry["kind"] == "router-acl" and dry["impact"] == "high"
    assert dry["changes"][-1] == (
        f"ip netns exec {namespace} nft add rule inet egovops forward ip saddr {attacker} drop "
        f"comment '\"egovops deny {attacker}\"'"
    )
    assert pending["state"] == "pending"
    assert (done["state"], done["approved_by"]) == ("executed", "bob")
    assert done["params"]["device"] == BOUNDARY and done["params"]["namespace"] == namespace
    assert [(r["handle"], r["comment"]) for r in rules] == [
        (done["outputs"]["handle"], f"egovops deny {attacker}")
    ]
    assert undone["state"] == "undone" and forward_rules(bed) == []
    records = list(AuditTrail(tmp_path / "audit.log").records())
    assert [r.action for r in records] == [
        "response.request", "response.approve", "response.execute", "response.undo",
    ]  # fmt: skip
    assert all(r.detail["kind"] == "router-acl" for r in records)


@pytest.mark.parametrize(
    ("device", "address", "execute", "undo"),
    [
        ("east-r1", "203.0.113.7",
         ["ip access-list extended PLANE-BIZ-IN", " 1 deny ip host 203.0.113.7 any", "exit"],
         ["ip access-list extended PLANE-BIZ-IN", " no 1", "exit"]),
        ("city-core", "2001:db8:ffff::7",
         ["acl ipv6 name PLANE-BIZ-IN6 advance", " rule 1 deny ipv6 source 2001:db8:ffff::7/128", "quit"],
         ["acl ipv6 name PLANE-BIZ-IN6 advance", " undo rule 1", "quit"]),
        ("west-r1", "203.0.113.7",
         ["acl advanced name PLANE-BIZ-IN", " rule 1 deny ip source 203.0.113.7 0", "quit"],
         ["acl advanced name PLANE-BIZ-IN", " undo rule 1", "quit"]),
    ],
)  # fmt: skip
def test_vendor_devices_get_a_rule_in_each_planes_boundary_acl(
    device: str, address: str, execute: list[str], undo: list[str]
) -> None:
    kind = RouterAcl()
    target = Target(incident=1, addresses=(address,), hosts=(), users=())
    params = kind.params(target, RouterAclOptions(estate=VENDORS, device=device), None)
    video = [line.replace("BIZ", "VIDEO") for line in execute]
    video_undo = [line.replace("BIZ", "VIDEO") for line in undo]
    assert list(kind.plan(params).changes) == execute + video
    assert list(kind.undo_plan(params, {}).changes) == undo + video_undo


def test_executing_on_a_vendor_device_fails_and_says_what_to_do(cases: CaseStore, tmp_path: Path) -> None:
    number = open_incident(cases, "203.0.113.7")
    config = write_config(tmp_path, {"router-acl": {"estate": str(VENDORS), "device": "east-r1"}})
    pending = cli(config, "respond", "router-acl", "--incident", str(number), "--as", "alice")
    failed = cli(config, "respond", "approve", str(pending["id"]), "--as", "bob", code=Exit.PARTIAL)
    assert "apply the dry run's lines on the device by hand" in failed["error"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"device": BOUNDARY}, "[response.kinds.router-acl] in egovops.toml: estate: Field required"),
        ({"estate": str(TESTBED), "device": "nowhere"}, "device: 'nowhere' is not a device of"),
        ({"estate": str(TESTBED), "device": BOUNDARY}, "set testbed (the test bed's directory) or namespace"),
        ({"estate": str(TESTBED), "device": BOUNDARY, "namespace": "fw; rm"}, "a network namespace name is"),
    ],
)
def test_options_errors_name_what_to_set(
    cases: CaseStore, tmp_path: Path, options: dict[str, str], message: str
) -> None:
    number = open_incident(cases, "203.0.113.7")
    config = write_config(tmp_path, {"router-acl": options})
    refused = cli(config, "respond", "router-acl", "--incident", str(number), "--dry-run", code=Exit.CONFIG)
    assert message in refused["error"]
