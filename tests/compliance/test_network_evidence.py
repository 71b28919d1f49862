"""Network evidence on the golden configurations of tests/network (one per vendor) and on variations of
them: the vendor each is read as, which checks pass, and what a weakness looks like in the evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from secops.compliance.evidence.network import (
    ConfigError,
    DeviceConfig,
    device_from_file,
    estate_devices,
    estate_network,
    judge_device,
    load_network_rules,
)

GOLDEN = Path(__file__).resolve().parents[1] / "network" / "golden"
ESTATE = Path(__file__).resolve().parents[1] / "network" / "data" / "vendors.yaml"
AT = datetime(2026, 11, 22, tzinfo=UTC)
RULES = load_network_rules()
ROUTER_CHECKS = {
    "net.mgmt.ssh_only", "net.aaa.login_failure", "net.accounts.default", "net.snmp.community",
    "net.logging.server", "net.acl.mgmt_source", "net.zones.segmented", "net.acl.boundary",
}  # fmt: skip
# The golden routers: SSH-only, logging, v3 SNMP, plane ACLs — but no login-failure limit or idle timeout,
# and no ACL on the VTY lines.
GOLDEN_FAILS = {"net.aaa.login_failure", "net.acl.mgmt_source"}


def verdicts(device: DeviceConfig) -> dict[str, bool]:
    return {o.check: o.passed for o in judge_device(device, RULES, AT)}


def evidence(device: DeviceConfig, check: str) -> str:
    outcome = next(o for o in judge_device(device, RULES, AT) if o.check == check)
    return outcome.evidence[0].content


@pytest.mark.parametrize(("name", "vendor"), [("east-r1.cfg", "cisco_ios"), ("city-core.cfg", "huawei_vrp"),
                                              ("west-r1.cfg", "h3c_comware")])  # fmt: skip
def test_golden_routers_per_vendor(name: str, vendor: str) -> None:
    device = device_from_file(GOLDEN / name, RULES)
    assert device.vendor == vendor
    found = verdicts(device)
    assert set(found) == ROUTER_CHECKS
    assert {check for check, passed in found.items() if not passed} == GOLDEN_FAILS


def test_frr_is_judged_on_what_its_configuration_holds() -> None:
    device = device_from_file(GOLDEN / "east-a-r1.cfg", RULES)
    assert device.vendor == "frr"
    assert verdicts(device) == {"net.mgmt.ssh_only": True, "net.accounts.default": True,
                                "net.snmp.community": True, "net.logging.server": True,
                                "net.zones.segmented": True}  # fmt: skip


def test_boundary_evidence_lists_each_applied_acl_and_its_entries() -> None:
    text = evidence(device_from_file(GOLDEN / "east-r1.cfg", RULES), "net.acl.boundary")
    assert "ip access-group PLANE-BIZ-IN in" in text
    assert "PLANE-BIZ-IN: deny ip 10.32.0.0 0.0.255.255 any" in text


def variant(name: str, old: str, new: str) -> DeviceConfig:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    assert old in text
    device = device_from_file(GOLDEN / name, RULES)
    return DeviceConfig(name, text.replace(old, new), device.vendor)


@pytest.mark.parametrize(("name", "old", "new", "check", "shown"), [
    ("east-r1.cfg", " transport input ssh", " transport input telnet ssh", "net.mgmt.ssh_only",
     "missing /^\\s*transport input ssh\\s*$/ in line vty 0 4"),
    ("city-core.cfg", "undo telnet server enable", "telnet server enable", "net.mgmt.ssh_only",
     "found 'telnet server enable'"),
    ("west-r1.cfg", "snmp-agent sys-info version v3", "snmp-agent community read simple public",
     "net.snmp.community", "found 'snmp-agent community read simple public'"),
    ("city-core.cfg", "snmp-agent sys-info version v3", "snmp-agent community write cipher private",
     "net.snmp.community", "found 'snmp-agent community write cipher private'"),
    ("east-r1.cfg", " deny ip 10.32.0.0 0.0.255.255 any\n", "", "net.acl.boundary",
     "ACL PLANE-BIZ-IN permits any to any"),
    ("west-r1.cfg", " rule 5 deny ip source 10.32.0.0 0.0.255.255\n", "", "net.acl.boundary",
     "ACL PLANE-BIZ-IN permits any to any"),
    ("city-core.cfg", "info-center loghost 10.150.3.10\n", "", "net.logging.server",
     "missing /^info-center loghost \\S+/"),
    ("east-r1.cfg", "ip ssh version 2", "username admin privilege 15 password 0 cisco",
     "net.accounts.default", "found 'username admin privilege 15 password 0 cisco'"),
])  # fmt: skip
def test_a_weakness_fails_its_check_and_says_why(
    name: str, old: str, new: str, check: str, shown: str
) -> None:
    device = variant(name, old, new)
    assert verdicts(device)[check] is False
    assert shown in evidence(device, check)


def test_frr_default_snmp_community_fails() -> None:
    device = device_from_file(Path(__file__).with_name("data") / "weak-r1.cfg", RULES)
    assert (device.vendor, verdicts(device)["net.snmp.community"]) == ("frr", False)


def test_estate_routers_are_read_with_the_estate_vendor() -> None:
    net = estate_network(ESTATE)
    assert net is not None
    devices = {d.name: d.vendor for d in estate_devices(net)}
    assert devices == {"city-core": "huawei_vrp", "east-r1": "cisco_ios", "west-r1": "h3c_comware",
                       "east-a-r1": "frr"}  # fmt: skip


def test_unrecognised_text_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n")
    with pytest.raises(ConfigError, match=r"notes\.txt: not recognisably"):
        device_from_file(path, RULES)
