"""Vendor configurations against golden files, and the diff that turns one configuration into another."""

from __future__ import annotations

import pytest

from network.diff import commands, unified
from network.estate import Vendor
from network.render import DIALECTS, render_all
from tests.network.helpers import GOLDEN, TESTBED, VENDORS, planned


@pytest.mark.parametrize("device", ["city-core", "east-r1", "west-r1", "east-a-r1"])
def test_rendered_configuration_matches_golden(device: str) -> None:
    net, result = planned(VENDORS)
    assert render_all(net, result)[device] == (GOLDEN / f"{device}.cfg").read_text(encoding="utf-8")


def test_every_vendor_expresses_planes_as_vrfs_with_boundary_acls() -> None:
    net, result = planned(VENDORS)
    configs = render_all(net, result)
    assert "ip vpn-instance video" in configs["city-core"]  # Huawei
    assert "traffic-filter inbound acl name PLANE-BIZ-IN" in configs["city-core"]
    assert (
        "vrf forwarding biz" in configs["east-r1"] and "ip access-group PLANE-BIZ-IN in" in configs["east-r1"]
    )
    assert "packet-filter name PLANE-VIDEO-IN inbound" in configs["west-r1"]  # H3C
    assert "router ospf6 vrf video" in configs["east-a-r1"]  # FRRouting
    assert "interface eth0.101 vrf biz" in configs["east-a-r1"]


def test_diff_of_a_configuration_with_itself_is_empty_and_a_change_is_minimal() -> None:
    net, result = planned(TESTBED)
    frr = DIALECTS[Vendor.FRR]
    desired = render_all(net, result)["east-biz"]
    running = "Building configuration...\n!\nfrr version 8.4.4\nhostname vm\n" + desired + "end\n"
    assert commands(running, desired, frr) == [] and unified(running, desired, frr, "east-biz") == ""
    ospf6 = "router ospf6\n ospf6 router-id 10.16.17.1\nexit\n"
    drifted = running.replace(" description to east-a-biz up (1000M)", " description old").replace(
        ospf6, ospf6 + "ip route 10.99.0.0/24 Null0\n"
    )
    assert commands(drifted, desired, frr) == [
        "no ip route 10.99.0.0/24 Null0",
        "interface down-a", "no description", "description to east-a-biz up (1000M)", "exit",
    ]  # fmt: skip


def test_removed_interface_block_is_emptied_not_deleted() -> None:
    frr = DIALECTS[Vendor.FRR]
    running = "interface up\n description x\n ip address 10.0.0.1/31\nexit\n"
    assert commands(running, "", frr) == [
        "interface up",
        "no description",
        "no ip address 10.0.0.1/31",
        "exit",
    ]
