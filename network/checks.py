"""Checks the estate answers on its own, before any device is touched: bandwidth floors per level
(千兆到县、百兆到镇、五十兆到村, as the city sets them), IPv6 at every access site, devices past their
warranty without an agreed exception, and the 政务外网接入率 of the 财政预算单位 against its target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from network.estate import Network


@dataclass(frozen=True)
class Check:
    check: str
    subject: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"check": self.check, "subject": self.subject, "ok": self.ok, "detail": self.detail}


def uplinks(net: Network) -> dict[str, int]:
    """Each site's fattest link (Mbit/s) to a device of its parent site."""
    site_of = {d.name: d.site for d in net.devices}
    parents = {s.name: s.parent for s in net.sites}
    best: dict[str, int] = {}
    for link in net.links:
        upper, lower = site_of[link.a.device], site_of[link.b.device]
        for child, parent in ((lower, upper), (upper, lower)):
            if parents.get(child) == parent:
                best[child] = max(best.get(child, 0), link.capacity)
    return best


def bandwidth(net: Network) -> list[Check]:
    capacity = uplinks(net)
    found = []
    for site in net.sites:
        floor = net.floors.get(site.level)
        if floor is None or site.parent is None:
            continue
        have = capacity.get(site.name, 0)
        detail = f"uplink {have}M, floor for a {site.level} site {floor}M"
        if have == 0:
            detail = f"no link to its parent {site.parent}; floor for a {site.level} site {floor}M"
        found.append(Check("bandwidth-floor", site.name, have >= floor, detail))
    return found


def ipv6(net: Network) -> list[Check]:
    no_v6 = [p.name for p in net.planes if p.ipv6 is None]
    found = []
    for site in net.sites:
        if not site.ipv6:
            found.append(
                Check("ipv6", site.name, False, "the site's access equipment has no IPv6 (ipv6: false)")
            )
        elif no_v6:
            found.append(Check("ipv6", site.name, False, f"planes without an IPv6 block: {', '.join(no_v6)}"))
        else:
            found.append(Check("ipv6", site.name, True, "IPv6 on every plane"))
    return found


def warranty(net: Network, today: date) -> list[Check]:
    found = []
    for dev in net.devices:
        if dev.warranty_end >= today:
            found.append(Check("warranty", dev.name, True, f"under warranty until {dev.warranty_end}"))
        elif dev.warranty_exception:
            found.append(
                Check(
                    "warranty",
                    dev.name,
                    True,
                    f"warranty ended {dev.warranty_end}; exception: {dev.warranty_exception}",
                )
            )
        else:
            found.append(
                Check(
                    "warranty",
                    dev.name,
                    False,
                    f"warranty ended {dev.warranty_end} and no warranty_exception is recorded",
                )
            )
    return found


def access_rate(net: Network) -> list[Check]:
    total = len(net.budget_units)
    if total == 0:
        return []
    connected = sum(1 for u in net.budget_units if u.site is not None)
    rate = connected / total
    return [
        Check(
            "access-rate",
            "budget-units",
            rate >= net.access_target,
            f"政务外网接入率 {rate:.1%} ({connected}/{total}), target {net.access_target:.0%}",
        )
    ]


def run_checks(net: Network, today: date | None = None) -> list[Check]:
    return [*bandwidth(net), *ipv6(net), *warranty(net, today or date.today()), *access_rate(net)]
