"""Reachability and isolation proven with real pings from inside the test bed's routers.

Within a plane, every router pings every other site's LAN gateway of that plane from its own LAN address,
in IPv4 and IPv6: each must answer. Between isolated planes, every router pings the other plane's LAN
gateway at its own site and at the top site: none may answer.
"""

from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from network.estate import Network
from network.intent import device_intent, ends
from network.ipam import IpamPlan
from network.testbed import Range


@dataclass(frozen=True)
class Probe:
    check: str
    """reachability or isolation."""
    plane: str
    family: int
    device: str
    source: str
    target: str
    target_site: str
    expect: bool

    def as_dict(self, answered: bool) -> dict[str, object]:
        return {"check": self.check, "plane": self.plane, "family": self.family, "from": self.device,
                "source": self.source, "to": self.target, "to_site": self.target_site,
                "answered": answered, "ok": answered == self.expect}  # fmt: skip


def _gateway(plan: IpamPlan, plane: str, family: int, site: str) -> str:
    return str(ends(plan.lookup(plane, family, "segment", site))[0].ip)


def probes(net: Network, plan: IpamPlan, routers: list[str]) -> list[Probe]:
    top = next(s.name for s in net.sites if s.parent is None)
    found = []
    for name in routers:
        device = net.device(name)
        intent = device_intent(net, plan, device)
        for plane in intent.planes:
            families = (4, 6) if plane.plane.ipv6 else (4,)
            for family in families:
                source = _gateway(plan, plane.plane.name, family, device.site)
                for site in net.sites:
                    if site.name != device.site:
                        found.append(
                            Probe(
                                "reachability",
                                plane.plane.name,
                                family,
                                name,
                                source,
                                _gateway(plan, plane.plane.name, family, site.name),
                                site.name,
                                True,
                            )
                        )
                if not plane.plane.isolated:
                    continue
                for other in net.planes:
                    if other.name == plane.plane.name or (family == 6 and other.ipv6 is None):
                        continue
                    for where in sorted({device.site, top}):
                        target = _gateway(plan, other.name, family, where)
                        found.append(
                            Probe("isolation", plane.plane.name, family, name, source, target, where, False)
                        )
    return found


def _ping(bed: Range, probe: Probe) -> bool:
    flag = "-4" if ipaddress.ip_address(probe.target).version == 4 else "-6"
    result = bed.run(probe.device, "ping", flag, "-c", "1", "-W", "2", "-I", probe.source, probe.target)
    return result.returncode == 0


def verify(
    net: Network, plan: IpamPlan, bed: Range, settle: float = 30.0, workers: int = 16
) -> list[dict[str, object]]:
    """Every probe run (in parallel) with its outcome; `ok` is whether the outcome is the wanted one.

    Reachability probes that fail are tried again for up to `settle` seconds, since routing may still be
    converging after a push or a rollback; isolation probes are judged on their first answer.
    """
    planned = probes(net, plan, list(bed.routers))
    answers: dict[Probe, bool] = {}
    deadline = time.monotonic() + settle
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = planned
        while pending:
            answers.update(zip(pending, pool.map(lambda p: _ping(bed, p), pending), strict=True))
            pending = [p for p in pending if p.expect and not answers[p]]
            if time.monotonic() > deadline:
                break
            time.sleep(1.0)
    return [probe.as_dict(answers[probe]) for probe in planned]
