"""Address planning: hierarchy, first fit, reservations, idempotence through the ledger, clear errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egovops.estate import Level
from network.estate import NetPlane, Network, Reservation, Site
from network.ipam import IpamError, plan, read_ledger, write_ledger
from tests.network.helpers import TESTBED, planned


def test_sites_are_carved_level_by_level_per_plane_and_family() -> None:
    _, result = planned(TESTBED)
    assert len(result.allocations) == 60  # 2 planes x 2 families x (5 sites + 5 segments + pool + 4 links)
    east = result.lookup("biz", 6, "site", "east")
    town = result.lookup("biz", 6, "site", "east-a")
    assert (east.prefixlen, town.prefixlen) == (48, 56)
    assert str(town.supernet(new_prefix=48)) == str(east) == "2001:db8:1001::/48"
    assert result.lookup("biz", 6, "segment", "east-a").prefixlen == 64
    assert str(result.lookup("biz", 4, "link", "city-biz--east-biz")) == "10.16.0.0/31"
    assert str(result.lookup("video", 4, "site", "west")) == "10.32.32.0/20"  # first fit after east
    usage = {(u.plane, u.family, u.owner, u.role): u for u in result.usage}
    assert usage[("biz", 4, "east-a", "site")].percent == 25.0  # one /26 segment in a /24


def test_reservation_is_never_allocated() -> None:
    net, _ = planned(TESTBED)
    block = ipaddress.IPv4Network("10.16.16.0/20")  # where the first county would go
    reserved = net.model_copy(update={"reserved": [Reservation(plane="biz", prefix=block, reason="DC")]})
    result = plan(reserved)
    biz_v4 = [a for a in result.allocations if (a.plane, a.family) == ("biz", 4) and a.parent is not None]
    assert not any(a.network.overlaps(block) for a in biz_v4)
    assert str(result.lookup("biz", 4, "site", "east")) == "10.16.32.0/20"


def test_replanning_with_the_ledger_allocates_nothing_and_a_new_site_renumbers_nobody(tmp_path: Path) -> None:
    net, first = planned(TESTBED)
    ledger = tmp_path / "ipam.json"
    write_ledger(ledger, first)
    again = plan(net, read_ledger(ledger))
    assert again.new == [] and again.allocations == first.allocations
    # without the ledger, removing east-a would let first fit move others; with it nothing moves
    without_east_a = net.model_copy(update={
        "sites": [s for s in net.sites if s.name != "east-a"],
        "devices": [d for d in net.devices if d.site != "east-a"],
        "links": [k for k in net.links if "east-a" not in k.name],
    })  # fmt: skip
    shrunk = plan(without_east_a, first.allocations)
    assert shrunk.new == [] and {a.owner for a in shrunk.released} >= {"east-a"}
    assert shrunk.lookup("biz", 4, "site", "west") == first.lookup("biz", 4, "site", "west")


def test_a_full_block_is_named_with_what_to_change() -> None:
    net, _ = planned(TESTBED)
    tiny = [p.model_copy(update={"ipv4": ipaddress.IPv4Network("10.16.0.0/19")}) if p.name == "biz" else p
            for p in net.planes]  # fmt: skip
    with pytest.raises(IpamError) as caught:
        plan(net.model_copy(update={"planes": tiny}))
    assert caught.value.problems == [
        "biz IPv4: no free /20 left in 10.16.0.0/19 for site west (4416 of 8192 addresses taken; widen the "
        "parent's block or lengthen network.addressing.ipv4.county)"
    ]


def test_ledger_entry_on_a_new_reservation_is_a_conflict() -> None:
    net, first = planned(TESTBED)
    taken = first.lookup("biz", 4, "site", "west")
    reserved = net.model_copy(update={"reserved": [Reservation(plane="biz", prefix=taken, reason="x")]})
    with pytest.raises(IpamError, match=r"site west \(biz, IPv4\) holds 10.16.32.0/20, but 10.16.32.0/20 is"):
        plan(reserved, first.allocations)


def test_csv_export_has_one_row_per_allocation() -> None:
    _, result = planned(TESTBED)
    rows = result.to_csv().splitlines()
    assert rows[0] == "site,level,plane,family,role,owner,prefix,parent"
    assert len(rows) == 1 + len(result.allocations)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=30))
def test_random_hierarchies_never_overlap_and_always_nest(shape: list[tuple[int, int]]) -> None:
    sites = [Site(name="top", level=Level.CITY)]
    for i, (county, _town) in enumerate(shape):
        name = f"c{county}"
        if all(s.name != name for s in sites):
            sites.append(Site(name=name, level=Level.COUNTY, parent="top"))
        sites.append(Site(name=f"t{i}", level=Level.TOWN, parent=name))
    net = Network(planes=[NetPlane(name="p", vrf=1, ipv4=ipaddress.IPv4Network("10.0.0.0/12"),
                                   ipv6=ipaddress.IPv6Network("2001:db8::/40"))], sites=sites)  # fmt: skip
    result = plan(net)
    by_key = {(a.family, a.prefix): a for a in result.allocations}
    for alloc in result.allocations:
        if alloc.parent is not None:
            assert alloc.network.subnet_of(ipaddress.ip_network(alloc.parent))  # type: ignore[arg-type]
            assert (alloc.family, alloc.parent) in by_key
    siblings: dict[str | None, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    for alloc in result.allocations:
        siblings.setdefault(alloc.parent, []).append(alloc.network)
    for group in siblings.values():
        for i, a in enumerate(group):
            assert not any(a.overlaps(b) for b in group[i + 1 :])
    assert plan(net, result.allocations).new == []
