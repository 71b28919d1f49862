"""The extranet: planning and rendering a 1,000-site estate, and pushing to 20 real routers in parallel
versus one after the other.

`plan-render` builds a synthetic estate (one city, 10 counties, 90 towns, 899 villages, three planes, one
device per site rotating through the four vendors, a link from each site to its parent) and times the
address plan plus every device's configuration. `push` builds a test bed of 20 FRRouting routers (one
plane; needs root, frr, openssh-server), commits a first configuration, then times two changes that
touch every router (each interface description), one with 1 worker and one with 20, in the same run.

    .venv/bin/python benchmarks/bench_network.py plan-render [--sites 1000] [--json]
    .venv/bin/python benchmarks/bench_network.py push [--routers 20] [--json]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from egovops.estate import Level
from network.estate import Addressing, Device, Family, Link, LinkEnd, NetPlane, Network, Site, Vendor
from network.ipam import plan
from network.render import render_all

MGMT = ipaddress.IPv4Address("198.18.251.0")
VENDORS = (Vendor.HUAWEI_VRP, Vendor.CISCO_IOS, Vendor.H3C_COMWARE, Vendor.FRR)


def synthetic(sites: int, planes: int, frr_only: bool = False) -> Network:
    """A city with counties of 9 towns and towns of ~10 villages, `sites` in all."""
    shape = [Site(name="city", level=Level.CITY)]
    counties = max(1, min(10, sites // 100))
    for c in range(counties):
        shape.append(Site(name=f"c{c}", level=Level.COUNTY, parent="city"))
    towns = [f"c{c}-t{t}" for t in range(9) for c in range(counties)][: max(0, sites - len(shape))]
    shape += [Site(name=n, level=Level.TOWN, parent=n.split("-")[0]) for n in towns]
    v = 0
    while len(shape) < sites:
        town = towns[v % len(towns)]
        shape.append(Site(name=f"{town}-v{v}", level=Level.VILLAGE, parent=town))
        v += 1
    net_planes = [
        NetPlane(name=f"p{i}", vrf=101 + i, ipv4=ipaddress.IPv4Network(f"10.{16 * (i + 1)}.0.0/12"),
                 ipv6=ipaddress.IPv6Network(f"2001:db8:{i + 1:x}00::/40"))
        for i in range(planes)
    ]  # fmt: skip
    devices, links, children = [], [], {s.name: 0 for s in shape}
    for i, site in enumerate(shape):
        vendor = Vendor.FRR if frr_only else VENDORS[i % len(VENDORS)]
        devices.append(Device(
            name=f"r-{site.name}", site=site.name, vendor=vendor, model="bench", os="1",
            warranty_end=date(2030, 1, 1), management=MGMT + 10 + i,
            vrfs=not frr_only, lan="lan0" if frr_only else "Eth9",
        ))  # fmt: skip
        if site.parent:
            n = children[site.parent]
            children[site.parent] += 1
            links.append(
                Link(
                    a=LinkEnd(device=f"r-{site.parent}", interface=f"d{n}"),
                    b=LinkEnd(device=f"r-{site.name}", interface="up"),
                    capacity=1000,
                )
            )
    addressing = Addressing(ipv4=Family(county=16, town=20, village=24, segment=26, links=20, link=31))
    return Network(planes=net_planes, sites=shape, devices=devices, links=links, addressing=addressing)


def bench_plan_render(sites: int) -> dict[str, object]:
    net = synthetic(sites, planes=3)
    wall, cpu = time.perf_counter(), time.process_time()
    result = plan(net)
    configs = render_all(net, result)
    return {
        "benchmark": "plan-render", "sites": len(net.sites), "devices": len(configs),
        "prefixes": len(result.allocations), "config_lines": sum(c.count("\n") for c in configs.values()),
        "wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3),
    }  # fmt: skip


def bench_push(routers: int) -> dict[str, object]:
    from network.push import Credentials, PushOptions, push
    from network.testbed import down, up

    first = synthetic(routers, planes=1, frr_only=True)
    root = Path(tempfile.mkdtemp(prefix="egovops-bench-net-"))
    bed = up(first, root, "egv-bench", host="198.18.251.1")
    figures: dict[str, object] = {"benchmark": "push", "routers": routers}
    try:
        creds = Credentials("egovops", bed.password)
        allocations = plan(first)
        push(first, allocations, creds, PushOptions(commit=True, workers=routers))
        for label, capacity, workers in (("serial", 2000, 1), ("parallel", 3000, routers)):
            changed = _recapacity(first, capacity)
            wall, cpu = time.perf_counter(), time.process_time()
            results = push(changed, allocations, creds, PushOptions(commit=True, workers=workers))
            figures[f"{label}_wall_s"] = round(time.perf_counter() - wall, 2)
            figures[f"{label}_cpu_s"] = round(time.process_time() - cpu, 2)
            figures[f"{label}_changed"] = sum(r.changed for r in results)
            figures[f"{label}_failed"] = sum(r.failed for r in results)
        figures["speedup"] = round(float(figures["serial_wall_s"]) / float(figures["parallel_wall_s"]), 1)  # type: ignore[arg-type]
    finally:
        down(bed)
    return figures


def _recapacity(net: Network, capacity: int) -> Network:
    """The same estate with every link at `capacity`: every router's link descriptions change."""
    links = [k.model_copy(update={"capacity": capacity}) for k in net.links]
    return net.model_copy(update={"links": links})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("plan-render", "push"))
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--routers", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = bench_plan_render(args.sites) if args.what == "plan-render" else bench_push(args.routers)
    figures["calibration_s"] = round(calibrate(), 3)
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
