"""What each device must be, from the estate and the address plan, before any vendor syntax: its planes
(VRF, route distinguisher, router id, the blocks of the planes it must not reach), its interfaces with
their addresses, and the management settings. Templates only spell this out; the post-checks after a push
read the same intent (which interfaces must be up, which prefixes must be routed)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from network.estate import Device, Management, NetPlane, Network, Role
from network.ipam import IpamPlan, Prefix

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(frozen=True)
class PlaneIntent:
    plane: NetPlane
    vrf: str | None
    """The VRF / VPN-instance name, or None when the device routes this one plane in its global table."""
    rd: str
    router_id: ipaddress.IPv4Address
    others_v4: tuple[ipaddress.IPv4Network, ...]
    """Blocks of other planes, denied at this plane's interfaces when it is isolated."""
    others_v6: tuple[ipaddress.IPv6Network, ...]

    @property
    def acl(self) -> str:
        return f"PLANE-{self.plane.name.upper()}-IN"


@dataclass(frozen=True)
class Interface:
    name: str
    description: str
    plane: PlaneIntent
    vlan: int | None
    """802.1Q tag of a subinterface (the plane's VRF id), None for a plain interface."""
    ipv4: ipaddress.IPv4Interface
    ipv6: ipaddress.IPv6Interface | None
    link: bool
    """A point-to-point link (OSPF point-to-point) rather than the site's LAN (OSPF passive)."""


@dataclass(frozen=True)
class Vlan:
    id: int
    """The plane's VRF id: the same tag the router's LAN subinterface of that plane uses."""
    name: str


@dataclass(frozen=True)
class AccessPortIntent:
    interface: str
    description: str
    vlan: Vlan | None
    """None: an unused port, shut down."""


@dataclass(frozen=True)
class AccessIntent:
    """An access switch: one VLAN per plane, trunked up to the site's router, access ports in them."""

    vlans: tuple[Vlan, ...]
    uplink: str
    ports: tuple[AccessPortIntent, ...]

    @property
    def trunk_vlans(self) -> str:
        return ",".join(str(v.id) for v in self.vlans)


@dataclass(frozen=True)
class DeviceIntent:
    device: Device
    site_title: str
    area: int
    planes: tuple[PlaneIntent, ...]
    interfaces: tuple[Interface, ...]
    management: Management
    access: AccessIntent | None = None
    """Set for an access switch, which routes nothing (no planes, no interfaces of its own)."""

    @property
    def name(self) -> str:
        return self.device.name


def ends(prefix: Prefix) -> tuple[IPInterface, IPInterface]:
    """The first two host addresses: both ends of a /31 or /127, the gateway and next of a segment."""
    base = int(prefix.network_address) + (0 if prefix.num_addresses <= 2 else 1)
    make = ipaddress.IPv4Interface if prefix.version == 4 else ipaddress.IPv6Interface
    return make((base, prefix.prefixlen)), make((base + 1, prefix.prefixlen))


def _name(base: str, device: Device, plane: NetPlane) -> tuple[str, int | None]:
    return (f"{base}.{plane.vrf}", plane.vrf) if device.vrfs else (base, None)


def access_intent(net: Network, device: Device) -> AccessIntent:
    vlans = {p.name: Vlan(p.vrf, p.name) for p in net.device_planes(device)}
    ports = tuple(
        AccessPortIntent(port.interface, port.description, vlans[port.plane] if port.plane else None)
        for port in device.ports
    )
    return AccessIntent(tuple(vlans.values()), device.lan, ports)


def device_intent(net: Network, plan: IpamPlan, device: Device) -> DeviceIntent:
    site = net.site(device.site)
    if device.role is Role.ACCESS_SWITCH:
        access = access_intent(net, device)
        return DeviceIntent(device, site.title or site.name, net.area, (), (), net.management, access)
    planes = []
    for plane in net.device_planes(device):
        gateway = ends(plan.lookup(plane.name, 4, "segment", site.name))[0]
        others = [p for p in net.planes if p.name != plane.name] if plane.isolated else []
        planes.append(PlaneIntent(
            plane=plane, vrf=plane.name if device.vrfs else None, rd=f"{net.asn}:{plane.vrf}",
            router_id=ipaddress.IPv4Address(gateway.ip),
            others_v4=tuple(p.ipv4 for p in others),
            others_v6=tuple(p.ipv6 for p in others if p.ipv6 is not None),
        ))  # fmt: skip
    interfaces = []
    for intent in planes:
        plane = intent.plane
        name, vlan = _name(device.lan, device, plane)
        v4 = ends(plan.lookup(plane.name, 4, "segment", site.name))[0]
        v6 = ends(plan.lookup(plane.name, 6, "segment", site.name))[0] if plane.ipv6 else None
        interfaces.append(Interface(name, f"{site.name} {plane.name} LAN", intent, vlan, v4, v6, link=False))  # type: ignore[arg-type]
        for link in net.links_of(device.name):
            if plane not in net.link_planes(link):
                continue
            mine, peer = (link.a, link.b) if link.a.device == device.name else (link.b, link.a)
            side = 0 if mine is link.a else 1
            name, vlan = _name(mine.interface, device, plane)
            v4 = ends(plan.lookup(plane.name, 4, "link", link.name))[side]
            v6 = ends(plan.lookup(plane.name, 6, "link", link.name))[side] if plane.ipv6 else None
            description = f"to {peer.device} {peer.interface} ({link.capacity}M)"
            interfaces.append(Interface(name, description, intent, vlan, v4, v6, link=True))  # type: ignore[arg-type]
    return DeviceIntent(
        device, site.title or site.name, net.area, tuple(planes), tuple(interfaces), net.management
    )
