"""The network part of the estate: the `network:` section of `stacks/<city>/estate.yaml`.

Sites by administrative level with their parent (省/市/县/镇/村), the service planes routed over them as
VRFs (一网多业务平面, each with the address blocks its sites are carved from), links with their capacity,
devices with vendor, model, OS, warranty and management address, reservations, bandwidth floors per
level and the 财政预算单位 whose connection gives the 政务外网接入率. The root estate (egovops.estate) keeps
what every module shares; plane names here must be planes declared there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from datetime import date
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from egovops.estate import EstateError, Level, describe_errors, line_at, read_located

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$", description="lower-case letters, digits, -")]
IPv4Net = ipaddress.IPv4Network
IPv6Net = ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LEVEL_ORDER = (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN, Level.VILLAGE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vendor(StrEnum):
    FRR = "frr"
    CISCO_IOS = "cisco_ios"
    HUAWEI_VRP = "huawei_vrp"
    H3C_COMWARE = "h3c_comware"


class Role(StrEnum):
    ROUTER = "router"
    ACCESS_SWITCH = "access-switch"
    """A site's layer-2 access: each plane its own VLAN (the plane's VRF id), access ports per plane."""


ACCESS_VENDORS = (Vendor.CISCO_IOS,)
"""Vendors with an access-switch template (network/render.py DIALECTS)."""


class AccessPort(_Model):
    """An access port of an access switch: in one plane's VLAN, or unused and shut down."""

    interface: str
    plane: Name | None = Field(None, description="the plane whose VLAN the port carries; none: shut down")
    description: str = Field("", description="who is plugged in, e.g. finance-bureau 3F")


class Family(_Model):
    """Prefix lengths of one address family: per level (a site's container), and inside a site."""

    city: int | None = Field(None, ge=1, le=128, description="only when the top site is the province")
    county: int = Field(ge=1, le=128)
    town: int = Field(ge=1, le=128)
    village: int = Field(ge=1, le=128)
    segment: int = Field(ge=1, le=128, description="a site's LAN segment in each plane")
    links: int = Field(
        ge=1, le=128, description="the pool of point-to-point links, carved from the city block"
    )
    link: int = Field(ge=1, le=128, description="one point-to-point link (RFC 3021 /31, RFC 6164 /127)")

    def length(self, role: str) -> int | None:
        value: int | None = getattr(self, role)
        return value


class Addressing(_Model):
    ipv4: Family = Family(county=16, town=20, village=24, segment=26, links=22, link=31)
    ipv6: Family = Family(county=48, town=56, village=60, segment=64, links=56, link=127)


class NetPlane(_Model):
    """A service plane routed as a VRF / VPN instance; its blocks are the city's containers for it."""

    name: Name
    vrf: int = Field(ge=1, le=4094, description="VRF / VPN-instance id; also the VLAN of link subinterfaces")
    ipv4: IPv4Net
    ipv6: IPv6Net | None = Field(None, description="omitted: the plane has no IPv6 (the IPv6 check fails)")
    isolated: bool = Field(True, description="物理连通、逻辑强隔离: no traffic to or from other planes")


class Site(_Model):
    name: Name
    level: Level
    parent: Name | None = Field(None, description="the site one level up; none only for the top site")
    title: str = ""
    ipv6: bool = Field(True, description="false: the access equipment cannot do IPv6 yet")


class Device(_Model):
    name: Name
    site: Name
    vendor: Vendor
    model: str
    os: str = Field(description="OS version, e.g. VRP V800R012C10")
    warranty_end: date
    warranty_exception: str | None = Field(
        None, description="why a device past warranty may stay (who agreed)"
    )
    management: Address
    port: int = Field(22, ge=1, le=65535)
    planes: list[Name] = Field(default_factory=list, description="planes it routes (default: all)")
    vrfs: bool = Field(True, description="planes as VRFs; false: one plane in the global table")
    lan: str = Field(
        description="interface that carries the site's segments (an access switch: its uplink trunk)"
    )
    role: Role = Role.ROUTER
    ports: list[AccessPort] = Field(default_factory=list, description="an access switch's access ports")


class LinkEnd(_Model):
    device: Name
    interface: str


class Link(_Model):
    a: LinkEnd = Field(description="the end at the upper (parent) site")
    b: LinkEnd
    capacity: int = Field(gt=0, description="Mbit/s")

    @property
    def name(self) -> str:
        return f"{self.a.device}--{self.b.device}"


class Reservation(_Model):
    plane: Name
    prefix: IPv4Net | IPv6Net
    reason: str


class BudgetUnit(_Model):
    """A 财政预算单位 and the site it is connected at (none: not yet on the extranet)."""

    name: str
    site: Name | None = None


class Management(_Model):
    """Hardening every device gets: SSH only, AAA, logging, NTP, SNMPv3, banner."""

    syslog: list[Address] = Field(default_factory=list)
    ntp: list[Address] = Field(default_factory=list)
    snmp_user: str = "egovops"
    snmp_group: str = "EGOV-RO"
    aaa_group: str = Field("local", description="AAA method list for logins (local or a TACACS+ group)")
    banner: str = "Authorised access only. 仅限授权访问。"


class Network(_Model):
    asn: int = Field(65000, ge=1, le=4294967295, description="route distinguishers are ASN:VRF")
    area: int = Field(0, ge=0, description="OSPF / OSPFv3 area of every link")
    floors: dict[Level, int] = Field(
        default_factory=lambda: {Level.COUNTY: 1000, Level.TOWN: 100, Level.VILLAGE: 50},
        description="minimum uplink Mbit/s per level (千兆到县、百兆到镇、五十兆到村)",
    )
    access_target: float = Field(0.9, ge=0, le=1, description="政务外网接入率 target (province: 90% by 2025)")
    addressing: Addressing = Addressing()
    planes: list[NetPlane] = Field(min_length=1)
    reserved: list[Reservation] = Field(default_factory=list)
    sites: list[Site] = Field(min_length=1)
    devices: list[Device] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    budget_units: list[BudgetUnit] = Field(default_factory=list)
    management: Management = Management()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Network:
        """A copy whose lookups see the updated fields (the cached index stays behind)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("_index", None)
        return copy

    @cached_property
    def _index(self) -> tuple[dict[str, Site], dict[str, Device], dict[str, list[Link]]]:
        links: dict[str, list[Link]] = {}
        for link in self.links:
            for end in (link.a.device, link.b.device):
                links.setdefault(end, []).append(link)
        return {s.name: s for s in self.sites}, {d.name: d for d in self.devices}, links

    def site(self, name: str) -> Site:
        return self._index[0][name]

    def device(self, name: str) -> Device:
        return self._index[1][name]

    def links_of(self, device: str) -> list[Link]:
        return self._index[2].get(device, [])

    def device_planes(self, device: Device) -> list[NetPlane]:
        return [p for p in self.planes if not device.planes or p.name in device.planes]

    def link_planes(self, link: Link) -> list[NetPlane]:
        """The planes a link carries: those both its ends route."""
        a, b = self.device(link.a.device), self.device(link.b.device)
        wanted = {p.name for p in self.device_planes(b)}
        return [p for p in self.device_planes(a) if p.name in wanted]

    def top_down(self) -> list[Site]:
        """Sites parents first (level by level), in file order within a level."""
        return sorted(self.sites, key=lambda s: LEVEL_ORDER.index(s.level))

    @model_validator(mode="after")
    def _references(self) -> Network:
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _dups(names: list[str]) -> list[str]:
    seen: set[str] = set()
    found = []
    for name in names:
        if name in seen:
            found.append(name)
        seen.add(name)
    return found


def _problems(net: Network) -> Iterator[str]:
    """Cross-references: each problem is `@path: what (fix)`."""
    for kind, names in (("site", [s.name for s in net.sites]), ("device", [d.name for d in net.devices]),
                        ("plane", [p.name for p in net.planes])):  # fmt: skip
        for dup in _dups(names):
            yield f"@network.{kind}s: {kind} {dup!r} is declared twice (rename one)"
    for dup in _dups([str(p.vrf) for p in net.planes]):
        yield f"@network.planes: VRF id {dup} is used by two planes (give each plane its own)"
    sites = {s.name: s for s in net.sites}
    planes = {p.name for p in net.planes}
    tops = [s.name for s in net.sites if s.parent is None]
    if len(tops) != 1:
        yield f"@network.sites: one site has no parent, found {tops or 'none'} (set parent: on the others)"
    for i, site in enumerate(net.sites):
        parent = sites.get(site.parent) if site.parent else None
        if site.parent and parent is None:
            yield f"@network.sites.{i}.parent: unknown site {site.parent!r} (declare it under network.sites)"
        elif parent and LEVEL_ORDER.index(parent.level) >= LEVEL_ORDER.index(site.level):
            yield (f"@network.sites.{i}.parent: {site.parent} is a {parent.level} site, not above this "
                   f"{site.level} (parents sit one or more levels up)")  # fmt: skip
    for i, dev in enumerate(net.devices):
        if dev.site not in sites:
            yield f"@network.devices.{i}.site: unknown site {dev.site!r} (declare it under network.sites)"
        for j, plane in enumerate(dev.planes):
            if plane not in planes:
                yield f"@network.devices.{i}.planes.{j}: unknown plane {plane!r} (known: {sorted(planes)})"
        if not dev.vrfs and len(net.device_planes(dev)) != 1:
            yield f"@network.devices.{i}.vrfs: without VRFs a device routes exactly one plane (list it)"
        yield from _port_problems(net, i, dev)
    devices = {d.name: d for d in net.devices}
    for i, link in enumerate(net.links):
        ends = [devices.get(link.a.device), devices.get(link.b.device)]
        for side, end in (("a", link.a), ("b", link.b)):
            if end.device not in devices:
                yield f"@network.links.{i}.{side}.device: unknown device {end.device!r} (declare it)"
            elif devices[end.device].role is Role.ACCESS_SWITCH:
                yield (f"@network.links.{i}.{side}.device: {end.device} is an access switch; links are "
                       "routed (the switch reaches its router through its lan: uplink trunk)")  # fmt: skip
        if None not in ends and not net.link_planes(link):
            yield f"@network.links.{i}: {link.a.device} and {link.b.device} share no plane (check planes)"
    for i, net_plane in enumerate(net.planes):
        for other in net.planes[:i]:
            for mine, theirs in ((net_plane.ipv4, other.ipv4), (net_plane.ipv6, other.ipv6)):
                if mine is not None and theirs is not None and mine.overlaps(theirs):
                    yield (
                        f"@network.planes.{i}: {mine} overlaps {theirs} of plane {other.name} "
                        "(the ACLs between planes need distinct blocks)"
                    )
    for i, res in enumerate(net.reserved):
        if res.plane not in planes:
            yield f"@network.reserved.{i}.plane: unknown plane {res.plane!r} (known: {sorted(planes)})"
    for i, unit in enumerate(net.budget_units):
        if unit.site is not None and unit.site not in sites:
            yield f"@network.budget_units.{i}.site: unknown site {unit.site!r} (declare it in network.sites)"


def _port_problems(net: Network, i: int, dev: Device) -> Iterator[str]:
    """An access switch's ports: each once, each in a plane the switch carries."""
    if dev.role is not Role.ACCESS_SWITCH:
        if dev.ports:
            yield f"@network.devices.{i}.ports: only an access switch has ports (set role: access-switch)"
        return
    if dev.vendor not in ACCESS_VENDORS:
        vendors = [str(v) for v in ACCESS_VENDORS]
        yield f"@network.devices.{i}.vendor: access switches are rendered for {vendors}, not {dev.vendor}"
    carried = {p.name for p in net.device_planes(dev)}
    for dup in _dups([p.interface for p in dev.ports] + [dev.lan]):
        yield f"@network.devices.{i}.ports: interface {dup!r} is used twice (the lan: uplink counts too)"
    for j, port in enumerate(dev.ports):
        if port.plane is not None and port.plane not in carried:
            yield (f"@network.devices.{i}.ports.{j}.plane: {port.plane!r} is not a plane of this switch "
                   f"(it carries {sorted(carried)}: add it to planes:)")  # fmt: skip


def parse_network(text: str, source: str = "<estate>") -> Network:
    """The `network:` section of estate YAML `text`, validated; errors name file, line, path and fix."""
    data, lines = read_located(text, source)
    if not isinstance(data, dict) or not isinstance(data.get("network"), dict):
        raise EstateError([f"{source}:1: network: missing (add the section; docs/network.md shows one)"])
    section = _expanded(data["network"], source, lines)
    try:
        net = Network.model_validate(section)
    except ValidationError as exc:
        raise EstateError(list(describe_errors(exc, source, lines, ("network",), "docs/network.md"))) from exc
    root_planes = {p.get("name") for p in data.get("planes") or [] if isinstance(p, dict)}
    unknown = [(i, p.name) for i, p in enumerate(net.planes) if root_planes and p.name not in root_planes]
    if unknown:
        raise EstateError(
            [
                f"{source}:{line_at(lines, ('network', 'planes', i))}: network.planes.{i}.name: {name!r} "
                f"is not a plane of the estate (declare it under planes: {sorted(filter(None, root_planes))})"
                for i, name in unknown
            ]
        )
    return net


def _expanded(
    section: dict[str, Any], source: str, lines: dict[tuple[str | int, ...], int]
) -> dict[str, Any]:
    """The section with its `generate` rules (network/generate.py) turned into sites, devices, links."""
    from network.generate import GenerateError, SiteRule, expand

    raw = {k: v for k, v in section.items() if k != "generate"}
    try:
        rules = TypeAdapter(list[SiteRule]).validate_python(section.get("generate") or [])
    except ValidationError as exc:
        within = ("network", "generate")
        raise EstateError(list(describe_errors(exc, source, lines, within, "docs/network.md"))) from exc
    try:
        return expand(rules, raw)
    except GenerateError as exc:
        path = str(exc).split(":", 1)[0]
        loc = tuple(int(p) if p.isdigit() else p for p in path.split("."))
        raise EstateError([f"{source}:{line_at(lines, loc)}: {exc}"]) from exc


def load_network(path: Path) -> Network:
    """Read the `network:` section of an estate file (EstateError names file, line, path and fix)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EstateError([f"{path}: cannot read the estate file: {exc.strerror}"]) from exc
    return parse_network(text, str(path))
