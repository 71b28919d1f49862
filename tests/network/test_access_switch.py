"""The access layer in the estate and its Cisco IOS switch configuration: one VLAN per plane (the plane's
VRF id, the tag of the router's LAN subinterface), trunked up, access ports per plane, unused ports shut."""

from __future__ import annotations

from pathlib import Path

import pytest

from egovops.estate import EstateError
from network.estate import ACCESS_VENDORS, Role, load_network
from network.render import DIALECTS, render_all
from tests.network.helpers import DATA, GOLDEN, planned

ACCESS = DATA / "access.yaml"


def test_access_switch_matches_golden() -> None:
    net, result = planned(ACCESS)
    assert render_all(net, result)["city-sw1"] == (GOLDEN / "city-sw1.cfg").read_text(encoding="utf-8")


def test_switch_vlans_are_the_router_subinterface_tags() -> None:
    net, result = planned(ACCESS)
    configs = render_all(net, result)
    for plane in net.planes:
        assert f"encapsulation dot1Q {plane.vrf}" in configs["city-r1"]
        assert f"vlan {plane.vrf}\n name {plane.name}\n" in configs["city-sw1"]
    assert "switchport trunk allowed vlan 101,102" in configs["city-sw1"]
    assert net.device("city-sw1").role is Role.ACCESS_SWITCH and net.device("city-r1").role is Role.ROUTER


def test_every_access_vendor_has_an_access_template() -> None:
    assert all(DIALECTS[v].access_template for v in ACCESS_VENDORS)


@pytest.mark.parametrize(
    ("old", "new", "at", "problem"),
    [
        ("plane: video, description: camera", "plane: voice, description: camera", "camera-hall",
         "network.devices.1.ports.2.plane: 'voice' is not a plane of this switch (it carries "
         "['biz', 'video']: add it to planes:)"),
        ("{interface: FastEthernet0/3,", "{interface: FastEthernet0/2,", "finance-bureau",
         "network.devices.1.ports: interface 'FastEthernet0/2' is used twice (the lan: uplink counts too)"),
        ("vendor: cisco_ios\n      model: WS", "vendor: frr\n      model: WS", "vendor: frr\n",
         "network.devices.1.vendor: access switches are rendered for ['cisco_ios'], not frr"),
        ("      role: access-switch\n", "", "finance-bureau",
         "network.devices.1.ports: only an access switch has ports (set role: access-switch)"),
    ],
)  # fmt: skip
def test_wrong_access_ports_name_file_line_and_fix(
    tmp_path: Path, old: str, new: str, at: str, problem: str
) -> None:
    text = ACCESS.read_text(encoding="utf-8").replace(old, new)
    bad = tmp_path / "estate.yaml"
    bad.write_text(text, encoding="utf-8")
    line = text[: text.index(at)].count("\n") + 1
    with pytest.raises(EstateError) as caught:
        load_network(bad)
    assert caught.value.problems == [f"{bad}:{line}: {problem}"]


def test_an_access_switch_cannot_end_a_routed_link(tmp_path: Path) -> None:
    ends = "a: {device: city-r1, interface: Gi0/0/1}, b: {device: city-sw1, interface: Fa0/6}"
    link = f"  links:\n    - {{{ends}, capacity: 1000}}\n"
    bad = tmp_path / "estate.yaml"
    bad.write_text(ACCESS.read_text(encoding="utf-8") + link, encoding="utf-8")
    with pytest.raises(EstateError, match=r"network.links.0.b.device: city-sw1 is an access switch"):
        load_network(bad)
