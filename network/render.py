"""Device configurations from the estate: one Jinja2 template per vendor (network/templates/), all fed
the same intent, so a vendor is a template and a dialect entry, never a second code path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from network.estate import Device, Network, Vendor
from network.intent import DeviceIntent, device_intent
from network.ipam import IpamPlan

TEMPLATES = Path(__file__).parent / "templates"
VTYSH = "frr_vtysh"


@dataclass(frozen=True)
class Dialect:
    """How a vendor's CLI is driven and its configuration compared."""

    template: str
    netmiko: str
    """netmiko device_type, or VTYSH: FRRouting's vtysh, driven as Cisco IOS once its prompt is up."""
    negate: str
    exit: str
    comment: str
    show_running: str
    ignore: tuple[str, ...] = ()
    """Running-configuration lines never removed (banner lines the device adds itself)."""
    terminators: tuple[str, ...] = ("exit",)
    clear_blocks: str = r"^interface "
    """Blocks emptied line by line instead of deleted (a physical interface cannot be deleted)."""
    bare: tuple[str, ...] = ("description",)
    """Lines negated by their keyword alone (`no description`, not `no description TEXT`)."""
    access_template: str | None = None
    """The template of an access switch (role: access-switch), for vendors that have one."""

    def negation(self, line: str) -> str:
        word = next((w for w in self.bare if line.startswith(f"{w} ")), None)
        return self.negate + (word or line)

    def ignored(self, line: str) -> bool:
        return any(re.match(pattern, line) for pattern in self.ignore)


DIALECTS: dict[Vendor, Dialect] = {
    Vendor.FRR: Dialect(
        "frr.j2",
        VTYSH,
        "no ",
        "exit",
        "!",
        "show running-config",
        ignore=(r"^frr version ", r"^hostname ", r"^service integrated-vtysh-config"),
        terminators=("exit", "exit-vrf", "end"),
    ),
    Vendor.CISCO_IOS: Dialect(
        "cisco_ios.j2",
        "cisco_ios",
        "no ",
        "exit",
        "!",
        "show running-config",
        ignore=(r"^version ", r"^Building configuration", r"^Current configuration", r"^vlan 1$"),
        terminators=("exit", "end"),
        access_template="cisco_ios_access.j2",
    ),
    Vendor.HUAWEI_VRP: Dialect(
        "huawei_vrp.j2",
        "huawei",
        "undo ",
        "quit",
        "#",
        "display current-configuration",
        terminators=("quit", "return"),
    ),
    Vendor.H3C_COMWARE: Dialect(
        "h3c_comware.j2",
        "hp_comware",
        "undo ",
        "quit",
        "#",
        "display current-configuration",
        terminators=("quit", "return"),
    ),
}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # device configurations, not HTML
    )


def render_intent(intent: DeviceIntent) -> str:
    dialect = DIALECTS[intent.device.vendor]
    name = dialect.access_template if intent.access else dialect.template
    assert name is not None, "the estate admits access switches only of vendors with an access template"
    template = _environment().get_template(name)
    return template.render(d=intent)


def render_device(net: Network, plan: IpamPlan, device: Device) -> str:
    return render_intent(device_intent(net, plan, device))


def render_all(net: Network, plan: IpamPlan) -> dict[str, str]:
    """Each device's configuration by device name, in estate order."""
    return {d.name: render_device(net, plan, d) for d in net.devices}
