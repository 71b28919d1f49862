"""`net.redundancy` on a test city's extranet: key sites (the city and its counties) need two routers,
VRRP/HSRP between them, and two lines to their parent; towns are access sites and need neither."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from network.estate import parse_network
from secops.compliance.evidence.network import DeviceConfig, estate_devices, load_network_rules
from secops.compliance.evidence.redundancy import judge_redundancy

VENDORS = Path(__file__).parents[1] / "network" / "data" / "vendors.yaml"
AT = datetime(2026, 11, 22, tzinfo=UTC)
SECOND = """\
    - {name: city-core2, site: city, vendor: huawei_vrp, model: NE40E-X8A, os: V800R012C10, warranty_end: 2028-06-30, management: 10.150.3.21, lan: GigabitEthernet0/0/9}
    - {name: east-r2, site: east, vendor: cisco_ios, model: ISR4451-X, os: "17.9.4", warranty_end: 2028-12-31, management: 10.150.3.22, lan: GigabitEthernet0/0/2}
  links:
    - {a: {device: city-core2, interface: GigabitEthernet0/0/1}, b: {device: east-r2, interface: GigabitEthernet0/0/0}, capacity: 10000}
"""  # noqa: E501
VRRP = {
    "city-core": "interface GigabitEthernet0/0/9\n vrrp vrid 1 virtual-ip 10.16.0.1\n",
    "east-r1": "interface GigabitEthernet0/0/2\n standby 1 ip 10.16.16.1\n",
}


def judge(devices: list[DeviceConfig], text: str) -> tuple[bool, str]:
    net = parse_network(text, str(VENDORS))
    outcome = judge_redundancy(net, devices or list(estate_devices(net)), load_network_rules().redundancy, AT)
    return outcome.passed, outcome.evidence[0].content


def test_single_routers_and_lines_at_key_sites_fail() -> None:
    passed, content = judge([], VENDORS.read_text(encoding="utf-8"))
    assert not passed
    assert content.split("-- not met:\n")[1].splitlines() == [
        "city: 1 router(s), no redundant device",
        "east: 1 router(s), no redundant device",
        "east: 1 link(s) to city, no redundant line",
        "west: 1 router(s), no redundant device",
        "west: 1 link(s) to city, no redundant line",
    ]
    assert "east-a" not in content  # a town is an access site


def test_second_devices_lines_and_vrrp_leave_only_the_single_homed_county() -> None:
    text = VENDORS.read_text(encoding="utf-8").replace("  links:\n", SECOND, 1)
    net = parse_network(text, str(VENDORS))
    rendered = list(estate_devices(net))
    passed, content = judge(rendered, text)
    assert "city: 2 routers but no VRRP/HSRP in their configurations" in content
    assert "east: 2 routers but no VRRP/HSRP in their configurations" in content
    # the operator's running configurations, named by their hostname/sysname, show the VRRP/HSRP groups
    running = [
        DeviceConfig(f"{d.name}.cfg", d.text + "\n" + VRRP.get(d.name, ""), d.vendor) for d in rendered
    ]
    passed, content = judge(running, text)
    assert not passed
    assert content.split("-- not met:\n")[1].splitlines() == [
        "west: 1 router(s), no redundant device",
        "west: 1 link(s) to city, no redundant line",
    ]
    assert "  city-core: vrrp vrid 1 virtual-ip 10.16.0.1" in content
    assert "  east-r1: standby 1 ip 10.16.16.1" in content
    assert (
        "east (county): routers east-r1, east-r2; uplinks to city: city-core2--east-r2, city-core--east-r1"
        in (content)
    )
