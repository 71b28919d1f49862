"""The two cities' estates (stacks/*/estate.yaml): their `network:` sections expand, plan and pass the
checks, with the counts the seeds give (Shantou: 6区1县, 67 镇街, 1086 村居); and the `generate` rules
that make those sites, with their errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from egovops.estate import EstateError, load_estate
from network.checks import run_checks
from network.estate import parse_network
from tests.network.helpers import TESTBED, planned

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def per_level(
    path: Path,
) -> tuple[Counter[str], Counter[tuple[str, int, str, str]], Counter[tuple[str, bool]]]:
    net, plan = planned(path)
    sites = Counter(s.level.value for s in net.sites)
    allocations: Counter[tuple[str, int, str, str]] = Counter(
        (a.plane, int(a.family), a.level, str(a.role)) for a in plan.allocations
    )
    checks = Counter((c.check, c.ok) for c in run_checks(net))
    return sites, allocations, checks


def test_shantou_has_the_seeds_sites_and_every_check_passes() -> None:
    sites, allocations, checks = per_level(STACKS / "shantou" / "estate.yaml")
    assert sites == {"city": 1, "county": 7, "town": 67, "village": 1086}
    for plane in ("public", "biz"):
        for family in (4, 6):
            assert allocations[(plane, family, "village", "segment")] == 1086
            assert allocations[(plane, family, "town", "segment")] == 67
            assert allocations[(plane, family, "county", "site")] == 7
            assert allocations[(plane, family, "village", "link")] == 1086  # each village's uplink
    assert checks == {("bandwidth-floor", True): 74, ("ipv6", True): 1161, ("warranty", True): 1161,
                      ("access-rate", True): 1}  # fmt: skip  # no village floor in the seed: 7 + 67 checked


def test_shanwei_has_its_four_counties_planes_and_a_budget_unit_not_yet_connected() -> None:
    sites, allocations, checks = per_level(STACKS / "shanwei" / "estate.yaml")
    assert sites == {"city": 1, "county": 4, "town": 12, "village": 48}
    assert allocations[("video", 6, "village", "segment")] == 48
    assert allocations[("video", 4, "village", "link")] == 0  # villages do not route the video plane
    assert allocations[("biz", 4, "village", "link")] == 48
    assert checks == {("bandwidth-floor", True): 64, ("ipv6", True): 65, ("warranty", True): 65,
                      ("access-rate", True): 1}  # fmt: skip


@pytest.mark.parametrize("city", ["shantou", "shanwei"])
def test_the_root_estate_still_validates(city: str) -> None:
    assert load_estate(STACKS / city / "estate.yaml").name == city


BASE = TESTBED.read_text(encoding="utf-8")


def with_rules(rules: str) -> str:
    return BASE.replace("  budget_units:\n", f"  generate:\n{rules}  budget_units:\n", 1)


def test_total_is_spread_first_parents_getting_one_more_and_devices_uplink_to_the_parent() -> None:
    net = parse_network(with_rules(
        "    - {level: village, parent: [east-a, west-a], total: 5, name: '{parent}-v{n}',\n"
        "       title: '{parent_title}{n}',\n"
        "       device: {vendor: frr, model: x, os: '8.4', warranty_end: 2030-01-01, lan: lan0,\n"
        "                management: 198.18.252.0/24, planes: [biz],\n"
        "                uplink: {parent_interface: 'v{n}', interface: up, capacity: 50}}}\n"
    ))  # fmt: skip
    villages = [s for s in net.sites if s.level == "village"]
    assert [(s.name, s.parent, s.title) for s in villages] == [
        ("east-a-v1", "east-a", "甲镇1"), ("east-a-v2", "east-a", "甲镇2"), ("east-a-v3", "east-a", "甲镇3"),
        ("west-a-v1", "west-a", "乙镇1"), ("west-a-v2", "west-a", "乙镇2"),
    ]  # fmt: skip
    device = net.device("r-west-a-v2")
    assert (str(device.management), device.planes) == ("198.18.252.5", ["biz"])
    assert [(k.a.device, k.a.interface, k.capacity) for k in net.links_of("r-west-a-v2")] == [
        ("west-a-biz", "v2", 50)
    ]


def test_a_rule_matching_no_site_names_its_line() -> None:
    text = with_rules("    - {level: town, parent: 'nowhere*', count: 2, name: '{parent}-t{n}'}\n")
    line = text.splitlines().index("  generate:") + 2
    with pytest.raises(EstateError) as caught:
        parse_network(text, "estate.yaml")
    assert caught.value.problems == [
        f"estate.yaml:{line}: network.generate.0.parent: no site matches 'nowhere*' "
        "(name a site declared above, or one an earlier rule makes)"
    ]


def test_count_and_total_together_are_refused() -> None:
    text = with_rules("    - {level: town, parent: east, count: 2, total: 4, name: '{parent}-t{n}'}\n")
    with pytest.raises(EstateError, match=r"network\.generate\.0: give exactly one of count"):
        parse_network(text, "estate.yaml")
