"""The access switch pushed for real: egovops's push (netmiko `cisco_ios`) against a fake-switches Cisco
switch over SSH. Dry run first (diff only), then commit, then the switch's own `show running-config` and
`show vlan brief`; a re-push changes nothing and a wrong VLAN id shows up in the diff."""

from __future__ import annotations

import pytest

from network.estate import Network, Vendor
from network.intent import device_intent
from network.ipam import IpamPlan
from network.push import Credentials, DeviceResult, PushOptions, netmiko_session, push, vlan_members
from network.render import DIALECTS
from tests.components.fake_switch import FakeSwitch, fake_switch

__all__ = ["fake_switch"]  # the session fixture, for pytest
from tests.network.helpers import DATA, planned

ACCESS = DATA / "access.yaml"


@pytest.fixture(scope="module")
def estate(fake_switch: FakeSwitch) -> tuple[Network, IpamPlan]:
    """The access estate with the switch's management port where the simulator listens."""
    net, result = planned(ACCESS)
    devices = [d.model_copy(update={"port": fake_switch.port}) if d.name == fake_switch.hostname else d
               for d in net.devices]  # fmt: skip
    return net.model_copy(update={"devices": devices}), result


def _push(net: Network, plan: IpamPlan, switch: FakeSwitch, commit: bool) -> DeviceResult:
    creds = Credentials(switch.user, switch.password)
    [result] = push(net, plan, creds, PushOptions(commit=commit), names=[switch.hostname])
    assert not result.failed, result.error
    return result


def _show(net: Network, plan: IpamPlan, switch: FakeSwitch) -> tuple[str, dict[int, set[str]]]:
    intent = device_intent(net, plan, net.device(switch.hostname))
    session = netmiko_session(intent, DIALECTS[Vendor.CISCO_IOS], Credentials(switch.user, switch.password))
    try:
        running = str(session.send_command("show running-config"))
        return running, vlan_members(str(session.send_command("show vlan brief")))
    finally:
        session.disconnect()


def _lines(diff: str, sign: str) -> set[str]:
    """The removed (-) or added (+) lines of a unified diff, without its file headers."""
    return {line[1:] for line in diff.splitlines() if line.startswith(sign) and not line.startswith(sign * 3)}


def test_access_switch_push_dry_run_commit_repush_and_wrong_vlan(
    estate: tuple[Network, IpamPlan], fake_switch: FakeSwitch
) -> None:
    net, plan = estate
    dry = _push(net, plan, fake_switch, commit=False)
    assert not dry.changed and "+vlan 101" in dry.diff.splitlines()
    assert "switchport access vlan 102" in dry.commands
    assert 101 not in _show(net, plan, fake_switch)[1]  # a dry run leaves the switch alone

    done = _push(net, plan, fake_switch, commit=True)
    assert done.changed and not done.rolled_back and done.commands == dry.commands
    assert [(c["check"], c["subject"], c["ok"]) for c in done.checks] == [
        ("vlan-present", "101", True), ("vlan-present", "102", True),
        ("port-in-vlan", "FastEthernet0/2", True), ("port-in-vlan", "FastEthernet0/3", True),
        ("port-in-vlan", "FastEthernet0/4", True),
    ]  # fmt: skip
    running, members = _show(net, plan, fake_switch)
    assert "vlan 101\n name biz\n" in running and "vlan 102\n name video\n" in running
    assert "interface FastEthernet0/5\n shutdown\n" in running
    assert " switchport trunk allowed vlan 101,102\n switchport mode trunk\n" in running
    assert members[101] == {"Fa0/2", "Fa0/3"} and members[102] == {"Fa0/4"}

    again = _push(net, plan, fake_switch, commit=True)
    assert not again.changed and again.commands == [] and again.diff == ""

    video = next(p for p in net.planes if p.name == "video")
    planes = [p.model_copy(update={"vrf": 120}) if p is video else p for p in net.planes]
    wrong = _push(net.model_copy(update={"planes": planes}), plan, fake_switch, commit=False)
    assert {"vlan 102", " switchport access vlan 102"} <= _lines(wrong.diff, "-")
    assert {"vlan 120", " switchport access vlan 120"} <= _lines(wrong.diff, "+")
    assert _show(net, plan, fake_switch)[1][102] == {"Fa0/4"}  # shown, not applied


def test_a_port_the_switch_lacks_is_rolled_back(
    estate: tuple[Network, IpamPlan], fake_switch: FakeSwitch
) -> None:
    net, plan = estate
    _push(net, plan, fake_switch, commit=True)
    before = _show(net, plan, fake_switch)
    switch = net.device(fake_switch.hostname)
    ports = [p.model_copy(update={"interface": "FastEthernet0/99"}) if p.interface == "FastEthernet0/3" else p
             for p in switch.ports]  # fmt: skip
    moved = [switch.model_copy(update={"ports": ports}) if d is switch else d for d in net.devices]
    creds = Credentials(fake_switch.user, fake_switch.password)
    options = PushOptions(commit=True)
    [result] = push(net.model_copy(update={"devices": moved}), plan, creds, options, names=[switch.name])
    assert result.failed and result.rolled_back and "refused a command" in (result.error or "")
    assert _show(net, plan, fake_switch) == before
