"""Hierarchical address planning: per plane (VRF scope) and family, the top site's block is carved into
one container per site level by level (县 /48, 镇 /56 … as `addressing` says), each site's LAN segment,
and a pool of point-to-point links.

Semantics follow NetBox's prefix model: a plane is a VRF (prefixes are unique inside it), a site's block
is a *container* whose utilisation counts its child prefixes, the links block is a *pool*, reservations
are prefixes nothing else may take, and every new prefix is the *first available* one of its length in
its parent. A ledger (the previous plan) makes planning idempotent: what it holds is kept as long as it
still fits, so adding a site never renumbers the others, and re-planning allocates nothing new.
"""

from __future__ import annotations

import bisect
import csv
import io
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter

from network.estate import Link, NetPlane, Network, Site

Prefix = ipaddress.IPv4Network | ipaddress.IPv6Network
Role = Literal["site", "segment", "links", "link"]
COLUMNS = ("site", "level", "plane", "family", "role", "owner", "prefix", "parent")


class IpamError(ValueError):
    """The plan cannot be made; each entry of `problems` says what collides or is full, and what to do."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Allocation(BaseModel):
    """One planned prefix. `owner` is the site, or the link for role `link`."""

    model_config = ConfigDict(frozen=True)

    site: str
    level: str
    plane: str
    family: Literal[4, 6]
    role: Role
    owner: str
    prefix: str
    parent: str | None

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.plane, self.family, self.role, self.owner)

    @cached_property
    def network(self) -> Prefix:
        return ipaddress.ip_network(self.prefix)


@dataclass(frozen=True)
class Usage:
    """How full a container or pool is: child prefixes over its size, in addresses."""

    plane: str
    family: int
    role: str
    owner: str
    prefix: str
    used: int
    size: int

    @property
    def percent(self) -> float:
        return round(100 * self.used / self.size, 2)

    def as_dict(self) -> dict[str, object]:
        """Address counts as decimal strings: an IPv6 block holds more than JSON numbers carry exactly."""
        return {"plane": self.plane, "family": self.family, "role": self.role, "owner": self.owner,
                "prefix": self.prefix, "used": str(self.used), "size": str(self.size),
                "percent": self.percent}  # fmt: skip


@dataclass
class IpamPlan:
    allocations: list[Allocation]
    new: list[Allocation]
    released: list[Allocation]
    usage: list[Usage]

    def __post_init__(self) -> None:
        self._by_key = {a.key: a for a in self.allocations}

    def lookup(self, plane: str, family: int, role: Role, owner: str) -> Prefix:
        return self._by_key[(plane, family, role, owner)].network

    def as_dict(self) -> dict[str, object]:
        return {
            "allocations": [a.model_dump() for a in self.allocations],
            "new": len(self.new),
            "released": [a.model_dump() for a in self.released],
            "utilisation": [u.as_dict() for u in self.usage],
        }

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for alloc in self.allocations:
            writer.writerow(alloc.model_dump())
        return buffer.getvalue()


_LEDGER = TypeAdapter(list[Allocation])


def read_ledger(path: Path) -> list[Allocation]:
    """The allocations of an earlier plan (`net plan --ledger`); none when the file does not exist."""
    if not path.exists():
        return []
    try:
        return _LEDGER.validate_json(path.read_bytes())
    except ValueError as exc:
        raise IpamError([f"{path}: not an allocation ledger ({exc}); move it away to plan afresh"]) from exc


def write_ledger(path: Path, plan: IpamPlan) -> None:
    path.write_bytes(orjson.dumps([a.model_dump() for a in plan.allocations], option=orjson.OPT_INDENT_2))


@dataclass
class _Space:
    """One container: its prefix and the prefixes taken inside it, kept sorted by first address."""

    prefix: Prefix
    taken: list[tuple[int, int]] = field(default_factory=list)
    hints: dict[int, int] = field(default_factory=dict)

    def take(self, net: Prefix) -> None:
        bisect.insort(self.taken, (int(net.network_address), int(net.broadcast_address)))

    def first_available(self, length: int) -> Prefix | None:
        """The lowest aligned free block of `length`. Nothing is freed while planning, so the search for a
        length resumes where the last one for it ended, and starts at the first block that can matter."""
        size = 1 << (self.prefix.max_prefixlen - length)
        end = int(self.prefix.broadcast_address)
        candidate = max(int(self.prefix.network_address), self.hints.get(length, 0))
        index = bisect.bisect_left(self.taken, candidate, key=lambda span: span[1])
        for first, last in self.taken[index:]:
            if candidate + size - 1 < first:
                break
            if last >= candidate:
                candidate = -(-(last + 1) // size) * size
        self.hints[length] = candidate
        if candidate + size - 1 > end:
            return None
        return ipaddress.ip_network((candidate, length))

    def clashes(self, net: Prefix) -> bool:
        first, last = int(net.network_address), int(net.broadcast_address)
        return any(a <= last and first <= b for a, b in self.taken)

    def used(self) -> int:
        return sum(last - first + 1 for first, last in self.taken)


class _Planner:
    def __init__(self, net: Network, ledger: Sequence[Allocation]) -> None:
        self.net = net
        self.ledger = {a.key: a for a in ledger}
        self.problems: list[str] = []
        self.allocations: list[Allocation] = []
        self.new: list[Allocation] = []
        self.spaces: dict[str, _Space] = {}
        self.exhausted: dict[tuple[str, int, Prefix, int], tuple[str, int, str]] = {}
        """Per full container and length: the first owner refused, how many were, and what to do."""

    def run(self) -> IpamPlan:
        for plane in self.net.planes:
            self._plane(plane, 4, plane.ipv4)
            if plane.ipv6 is not None:
                self._plane(plane, 6, plane.ipv6)
        for (name, family, parent, length), (first, count, remedy) in self.exhausted.items():
            more = f" and {count - 1} more after it" if count > 1 else ""
            self.problems.append(
                f"{name} IPv{family}: no free /{length} left in {parent} for {first}{more} "
                f"({self.spaces[str(parent)].used()} of {parent.num_addresses} addresses taken; {remedy})"
            )
        if self.problems:
            raise IpamError(self.problems)
        wanted = {a.key for a in self.allocations}
        released = [a for key, a in self.ledger.items() if key not in wanted]
        usage = [
            Usage(a.plane, a.family, a.role, a.owner, a.prefix, self.spaces[a.prefix].used(),
                  a.network.num_addresses)
            for a in self.allocations if a.role in ("site", "links")
        ]  # fmt: skip
        return IpamPlan(self.allocations, self.new, released, usage)

    def _plane(self, plane: NetPlane, family: Literal[4, 6], block: Prefix) -> None:
        top = next(s for s in self.net.sites if s.parent is None)
        lengths = getattr(self.net.addressing, f"ipv{family}")
        root = self._keep(plane, family, "site", top, top.name, block, None)
        reserved = [r.prefix for r in self.net.reserved
                    if r.plane == plane.name and r.prefix.version == family
                    and r.prefix.overlaps(block)]  # fmt: skip
        for prefix in reserved:  # nothing may overlap a reservation, so it is taken at the top
            self.spaces[str(block)].take(prefix)
        self._claim_ledger(plane, family, reserved)
        links = self._place(plane, family, "links", top, top.name, root, lengths.links)
        sites = self.net.top_down()
        containers = {top.name: root}
        for site in sites:
            if site.parent is None:
                continue
            parent = containers.get(site.parent)
            length = lengths.length(site.level.value)
            if parent is None:
                continue
            if length is None:
                self.problems.append(
                    f"network.addressing.ipv{family}.{site.level.value}: no prefix length for {site.level} "
                    f"sites (site {site.name}; set it)"
                )
                continue
            placed = self._place(plane, family, "site", site, site.name, parent, length)
            if placed is not None:
                containers[site.name] = placed
        for site in sites:
            if site.name in containers:
                self._place(plane, family, "segment", site, site.name, containers[site.name], lengths.segment)
        if links is None:
            return
        for link in self.net.links:
            if plane in self.net.link_planes(link):
                self._place(plane, family, "link", self._site_of(link), link.name, links, lengths.link)

    def _site_of(self, link: Link) -> Site:
        return self.net.site(self.net.device(link.b.device).site)

    def _claim_ledger(self, plane: NetPlane, family: int, reserved: list[Prefix]) -> None:
        """Ledger prefixes of live owners are taken in their parents before anything new is placed."""
        owners = {s.name for s in self.net.sites} | {link.name for link in self.net.links}
        for alloc in self.ledger.values():
            if (
                (alloc.plane, alloc.family) != (plane.name, family)
                or alloc.parent is None
                or alloc.owner not in owners
            ):
                continue
            net = alloc.network
            hit = next((r for r in reserved if r.overlaps(net)), None)
            if hit is not None:
                self.problems.append(
                    f"ledger: {alloc.role} {alloc.owner} ({plane.name}, IPv{family}) holds {net}, but {hit} "
                    "is"
                    " reserved (drop the reservation, or remove the entry from the ledger to renumber it)"
                )
                continue
            space = self.spaces.setdefault(alloc.parent, _Space(ipaddress.ip_network(alloc.parent)))
            if space.clashes(net):
                self.problems.append(
                    f"ledger: {alloc.role} {alloc.owner} ({plane.name}, IPv{family}) holds {net}, which "
                    "overlaps "
                    f"another ledger entry in {alloc.parent} (remove one of them from the ledger)"
                )
                continue
            space.take(net)

    def _full(self, plane: str, family: int, parent: Prefix, length: int, what: str, remedy: str) -> None:
        first, count, _ = self.exhausted.get((plane, family, parent, length), (what, 0, remedy))
        self.exhausted[(plane, family, parent, length)] = (first, count + 1, remedy)

    def _keep(self, plane: NetPlane, family: Literal[4, 6], role: Role, site: Site, owner: str,
              prefix: Prefix, parent: Prefix | None) -> Prefix:  # fmt: skip
        alloc = Allocation(site=site.name, level=site.level.value, plane=plane.name, family=family, role=role,
                           owner=owner, prefix=str(prefix),
                           parent=str(parent) if parent else None)  # fmt: skip
        self.allocations.append(alloc)
        if alloc.key not in self.ledger or self.ledger[alloc.key].prefix != alloc.prefix:
            self.new.append(alloc)
        if role in ("site", "links"):
            self.spaces.setdefault(str(prefix), _Space(prefix))
        return prefix

    def _place(self, plane: NetPlane, family: Literal[4, 6], role: Role, site: Site, owner: str,
               parent: Prefix, length: int) -> Prefix | None:  # fmt: skip
        space = self.spaces[str(parent)]
        known = self.ledger.get((plane.name, family, role, owner))
        if known is not None and known.parent == str(parent) and known.network.prefixlen == length:
            return self._keep(plane, family, role, site, owner, known.network, parent)
        if length < parent.prefixlen or length > parent.max_prefixlen:
            self.problems.append(
                f"{plane.name} IPv{family}: {role} {owner} wants a /{length}, which does not fit in its "
                f"parent "
                f"{parent} (change network.addressing.ipv{family})"
            )
            return None
        prefix = space.first_available(length)
        if prefix is None:
            self._full(plane.name, family, parent, length, f"{role} {owner}", _remedy(role, site, family))
            return None
        space.take(prefix)
        return self._keep(plane, family, role, site, owner, prefix, parent)


def _remedy(role: Role, site: Site, family: int) -> str:
    where = f"network.addressing.ipv{family}"
    if role == "link":
        return f"make the links pool bigger: shorten {where}.links"
    field = site.level.value if role == "site" else role
    return f"widen the parent's block or lengthen {where}.{field}"


def plan(net: Network, ledger: Iterable[Allocation] = ()) -> IpamPlan:
    """Every prefix the estate needs: kept from `ledger` where it still fits, first-fit otherwise."""
    return _Planner(net, list(ledger)).run()
