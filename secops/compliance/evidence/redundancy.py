"""`net.redundancy` (通信线路、关键网络设备的硬件冗余) from the estate's network and its devices' configs.

Key sites are the top site and the sites at the levels `network_rules.yaml` names (the city-county
backbone; towns and villages hang off one access link by design). At a key site: two routers at least
(a redundant device), and when it has two, a first-hop redundancy protocol (VRRP, VRRP6, HSRP) in one of
their configurations at least (else hosts keep one gateway); every key site below the top: two links at
least towards its parent site (a redundant line). ECMP (`maximum-paths`) lines are shown, not required.
Redundant power and line cards are not visible here: a reviewer checks them on site.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from egovops.estate import Level
from network.estate import Network, Role
from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind
from secops.compliance.evidence.conditions import RuleSpec, pattern

if TYPE_CHECKING:
    from secops.compliance.evidence.network import DeviceConfig

CHECK = "net.redundancy"


class RedundancyRules(RuleSpec):
    key_levels: tuple[Level, ...]
    fhrp: str
    ecmp: str
    hostname: str


def _configs(devices: Iterable[DeviceConfig], rules: RedundancyRules) -> dict[str, DeviceConfig]:
    """Configurations by device name: the estate's own, or a file whose hostname/sysname is the device."""
    found = {}
    for device in devices:
        named = pattern(rules.hostname).search(device.text)
        found[named.group(1) if named else device.name] = device
    return found


def judge_redundancy(
    net: Network, devices: Iterable[DeviceConfig], rules: RedundancyRules, at: datetime
) -> CheckOutcome:
    configs = _configs(devices, rules)
    sites = {s.name: s for s in net.sites}
    routers: defaultdict[str, list[str]] = defaultdict(list)
    for device in net.devices:
        if device.role is Role.ROUTER:
            routers[device.site].append(device.name)
    site_of = {d.name: d.site for d in net.devices}
    uplinks: defaultdict[str, list[str]] = defaultdict(list)
    for link in net.links:
        ends = {site_of[link.a.device], site_of[link.b.device]}
        for end in ends:
            if sites[end].parent in ends:
                uplinks[end].append(link.name)
    key = [s for s in net.sites if s.parent is None or s.level in rules.key_levels]
    problems, lines = [], []
    for site in key:
        names = routers[site.name]
        fhrp = [f"  {n}: {line}" for n in names if n in configs for line in _lines(configs[n], rules.fhrp)]
        ecmp = [f"  {n}: {line}" for n in names if n in configs for line in _lines(configs[n], rules.ecmp)]
        up = uplinks[site.name]
        lines.append(
            f"{site.name} ({site.level}): routers {', '.join(names) or 'none'}"
            + (f"; uplinks to {site.parent}: {', '.join(up) or 'none'}" if site.parent else "")
        )
        lines += fhrp + ecmp
        if len(names) < 2:
            problems.append(f"{site.name}: {len(names)} router(s), no redundant device")
        elif not fhrp and all(n in configs for n in names):
            problems.append(f"{site.name}: {len(names)} routers but no VRRP/HSRP in their configurations")
        if site.parent is not None and len(up) < 2:
            problems.append(f"{site.name}: {len(up)} link(s) to {site.parent}, no redundant line")
    content = f"{len(key)} key sites (levels {', '.join(rules.key_levels)} and the top)\n" + "\n".join(lines)
    if problems:
        content += "\n-- not met:\n" + "\n".join(problems)
    evidence = Evidence(kind=EvidenceKind.CONFIG, source="estate network", content=content, collected_at=at)
    return CheckOutcome(check=CHECK, passed=not problems, evidence=(evidence,))


def _lines(device: DeviceConfig, regex: str) -> list[str]:
    return [m.group(0).strip() for m in pattern(regex).finditer(device.text)]
