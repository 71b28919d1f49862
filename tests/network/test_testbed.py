"""The whole loop on real routers: `egovops net push` (dry run, commit, re-push, a broken change) through
netmiko to FRRouting over SSH, and `egovops net verify` pinging inside the namespaces.

The tests run in file order on one session-wide test bed: each starts from the state the one before left.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from egovops.audit import AuditTrail
from network.estate import load_network
from network.testbed import Range, RangeError, up
from tests.components.frr import require_testbed_tools
from tests.network.helpers import TESTBED

REPO = Path(__file__).resolve().parents[2]
DEVICES = 10


def egovops(audit: Path, *args: str) -> tuple[int, Any]:
    env = {**os.environ, "EGOVOPS_RESPONSE__AUDIT_LOG": str(audit)}
    result = subprocess.run([sys.executable, "-m", "egovops", "net", *args, "--json"], cwd=REPO, env=env,
                            capture_output=True, timeout=600, check=False)  # fmt: skip
    assert result.stdout, result.stderr.decode(errors="replace")
    return result.returncode, orjson.loads(result.stdout)


def running(bed: Range, device: str) -> str:
    ns = bed.netns(device)
    return bed.run(device, "vtysh", "-N", ns, "-c", "show running-config").stdout


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("net-audit") / "audit.log"


def test_dry_run_shows_the_diff_and_changes_nothing(frr_testbed: Range, audit: Path) -> None:
    code, results = egovops(audit, "push", "--estate", str(TESTBED), "--testbed", str(frr_testbed.root))
    assert code == 0 and len(results) == DEVICES, results
    assert all(not r["changed"] and not r["failed"] and r["commands"] for r in results)
    by_name = {r["device"]: r for r in results}
    assert "+interface lan0" in by_name["east-biz"]["diff"]
    assert "+ ip address 10.16.17.1/26" in by_name["east-biz"]["diff"]
    assert "router ospf" not in running(frr_testbed, "east-biz")


def test_commit_applies_everything_and_planes_reach_within_and_not_across(
    frr_testbed: Range, audit: Path
) -> None:
    code, results = egovops(
        audit, "push", "--estate", str(TESTBED), "--testbed", str(frr_testbed.root), "--commit"
    )
    assert code == 0, results
    assert all(r["changed"] and not r["failed"] and not r["rolled_back"] for r in results)
    assert all(c["ok"] for r in results for c in r["checks"])
    assert " ip address 10.16.17.1/26" in running(frr_testbed, "east-biz")
    code, verified = egovops(audit, "verify", "--estate", str(TESTBED), "--testbed", str(frr_testbed.root))
    checks = verified["checks"]
    reach = [c for c in checks if c["check"] == "reachability"]
    isolated = [c for c in checks if c["check"] == "isolation"]
    assert (len(reach), len(isolated)) == (80, 36)  # 10 routers x 4 sites x 2 families; 36 cross-plane pings
    assert {c["family"] for c in reach} == {4, 6}
    assert all(c["answered"] for c in reach), [c for c in reach if not c["answered"]]
    assert not any(c["answered"] for c in isolated), [c for c in isolated if c["answered"]]
    assert code == 0 and verified["ok"]


def test_repush_of_the_same_estate_changes_nothing(frr_testbed: Range, audit: Path) -> None:
    code, results = egovops(
        audit, "push", "--estate", str(TESTBED), "--testbed", str(frr_testbed.root), "--commit"
    )
    assert code == 0
    assert [r for r in results if r["changed"] or r["commands"] or r["diff"]] == []


def test_broken_change_is_rolled_back_and_the_rest_stays(
    frr_testbed: Range, audit: Path, tmp_path: Path
) -> None:
    # a typo in the town router's uplink name: FRR accepts it, the post-check finds the interface absent
    text = TESTBED.read_text(encoding="utf-8").replace(
        "b: {device: east-a-biz, interface: up}", "b: {device: east-a-biz, interface: uplnk}"
    )
    broken = tmp_path / "estate.yaml"
    broken.write_text(text, encoding="utf-8")
    before = running(frr_testbed, "east-a-biz")
    code, results = egovops(
        audit, "push", "--estate", str(broken), "--testbed", str(frr_testbed.root), "--commit"
    )
    by_name = {r["device"]: r for r in results}
    town = by_name["east-a-biz"]
    assert code == 1
    assert town["changed"] and town["failed"] and town["rolled_back"]
    assert "interface uplnk" in town["commands"]
    assert {"check": "interface-up", "subject": "uplnk", "ok": False, "detail": "status down"} in town[
        "checks"
    ]
    assert running(frr_testbed, "east-a-biz") == before
    # the county's side changed only its description, passed its checks and stays
    assert by_name["east-biz"]["changed"] and not by_name["east-biz"]["failed"]
    assert [n for n, r in by_name.items() if r["failed"]] == ["east-a-biz"]
    code, verified = egovops(audit, "verify", "--estate", str(TESTBED), "--testbed", str(frr_testbed.root))
    assert code == 0 and verified["ok"]


def test_every_push_is_in_the_audit_trail_with_its_diff(audit: Path) -> None:
    trail = AuditTrail(audit)
    assert trail.verify().ok
    records = list(trail.records())
    pushes = [r for r in records if r.action == "net.push"]
    assert len([r for r in records if r.action == "net.diff"]) == DEVICES
    assert len(pushes) == 3 * DEVICES
    rolled = [r for r in pushes if r.detail["rolled_back"]]
    assert [r.target for r in rolled] == ["device/east-a-biz"]
    assert "+ description to east-a-biz uplnk (1000M)" in next(
        r.detail["diff"] for r in pushes if r.target == "device/east-biz" and r.detail["changed"]
        and "uplnk" in r.detail["diff"]
    )  # fmt: skip


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    require_testbed_tools()
    # an interface name longer than Linux allows (15 characters) fails the build half-way
    net = load_network(TESTBED)
    bad = net.model_copy(
        update={"devices": [*net.devices[:3], net.devices[3].model_copy(update={"lan": "x" * 16})]}
    )
    prefix = f"egv-fail{os.getpid() % 100000}"
    with pytest.raises(RangeError, match=r"ip -n egv-fail\S* link add xxxxxxxxxxxxxxxx type veth"):
        up(bad, tmp_path / "bed", prefix)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert prefix not in namespaces
    assert not (tmp_path / "bed").exists()
    assert not [p for p in Path("/etc/netns").glob(f"{prefix}*")] + [
        p for p in Path("/etc/frr").glob(f"{prefix}*")
    ]
    zebras = subprocess.run(
        ["pgrep", "-f", f"zebra -N {prefix}"], capture_output=True, text=True, check=False
    )
    assert zebras.stdout == ""
