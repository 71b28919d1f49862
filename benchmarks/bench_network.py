"""The extranet: planning and rendering a 1,000-site estate, and pushing to 20 real routers in parallel
versus one after the other.

`plan-render` builds a synthetic estate (one city, 10 counties, 90 towns, 899 villages, three planes, one
device per site rotating through the four vendors, a link from each site to its parent) and times the
address plan plus every device's configuration. `push` builds a test bed of 20 FRRouting routers (one
plane; needs root, frr, openssh-server), commits a first configuration, then times two changes that
touch every router (each interface description), one with 1 worker and one with 20, in the same run.
`ansible` pushes one such change with egovops, resets the routers, pushes it with Ansible
(playbooks/net-config-ios.yml through ansible-runner) and compares the routers' running and saved
configurations after each.

    .venv/bin/python benchmarks/bench_network.py plan-render [--sites 1000] [--json]
    .venv/bin/python benchmarks/bench_network.py push [--routers 20] [--json]
    .venv/bin/python benchmarks/bench_network.py ansible [--routers 20] [--json]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
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
from network.testbed import Range
from secops.response.action import PLAYBOOKS
from secops.response.playbook import QUIET

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


def bench_ansible(routers: int) -> dict[str, object]:
    """The same change (every link's capacity, so every router's link descriptions) pushed by egovops and
    by Ansible from the same starting configuration; wall time and whether the routers end up alike."""
    from network.push import Credentials, PushOptions, push
    from network.testbed import down, up

    first = synthetic(routers, planes=1, frr_only=True)
    root = Path(tempfile.mkdtemp(prefix="egovops-bench-ansible-"))
    bed = up(first, root, "egv-bans", host="198.18.251.1")
    figures: dict[str, object] = {"benchmark": "ansible", "routers": routers, "workers_or_forks": routers}
    try:
        creds = Credentials("egovops", bed.password)
        allocations = plan(first)
        options = PushOptions(commit=True, workers=routers)
        push(first, allocations, creds, options)
        start = _end_state(bed)
        changed = _recapacity(first, 2000)
        wall, cpu = time.perf_counter(), time.process_time()
        results = push(changed, allocations, creds, options)
        figures["egovops_wall_s"] = round(time.perf_counter() - wall, 2)
        figures["egovops_cpu_s"] = round(time.process_time() - cpu, 2)
        figures["egovops_changed"] = sum(r.changed for r in results)
        egovops_end = _end_state(bed)
        push(first, allocations, creds, options)  # back to the starting configuration
        figures["ansible_starts_where_egovops_started"] = _end_state(bed) == start
        render_dir = root / "rendered"
        render_dir.mkdir()
        for name, text in render_all(changed, allocations).items():
            (render_dir / f"{name}.cfg").write_text(text, encoding="utf-8")
        wall = time.perf_counter()
        status, changed_hosts, ansible_cpu = _ansible(bed, render_dir, routers)
        figures["ansible_wall_s"] = round(time.perf_counter() - wall, 2)
        figures["ansible_cpu_s"] = ansible_cpu
        figures["ansible_status"], figures["ansible_changed"] = status, changed_hosts
        ansible_end = _end_state(bed)
        differ = sorted(n for n in egovops_end if egovops_end[n] != ansible_end.get(n))
        figures["end_state_identical"] = not differ
        figures["routers_differing"] = differ
        if differ:
            figures["diff_file"] = str(root.parent / "bench-ansible-diff.txt")
            (root.parent / "bench-ansible-diff.txt").write_text(
                "\n".join(
                    f"### {n}\n--- egovops\n{egovops_end[n]}\n--- ansible\n{ansible_end[n]}" for n in differ
                )
            )
    finally:
        down(bed)
    return figures


def _end_state(bed: Range) -> dict[str, str]:
    """Each router's running configuration and its saved one (what `write memory` wrote)."""
    state = {}
    for name, router in bed.routers.items():
        shown = bed.run(name, "vtysh", "-N", router.netns, "-c", "show running-config").stdout
        saved = (Path("/etc/frr") / router.netns / "frr.conf").read_text(encoding="utf-8")
        state[name] = f"{shown}\n=== saved ===\n{saved}"
    return state


def _ansible(bed: Range, config_dir: Path, forks: int) -> tuple[str, int, float]:
    """Run playbooks/net-config-ios.yml with ansible-runner: status, hosts changed, CPU of its processes."""
    import resource

    import ansible_runner  # type: ignore[import-untyped]

    hosts = {
        name: {"ansible_host": router.management, "ansible_port": router.port}
        for name, router in bed.routers.items()
    }
    inventory = {"all": {"hosts": hosts, "vars": {
        "ansible_connection": "ansible.netcommon.network_cli", "ansible_network_os": "cisco.ios.ios",
        "ansible_user": "egovops", "ansible_password": bed.password,
        "ansible_python_interpreter": sys.executable,
    }}}  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="egovops-ansible-") as data_dir:
        runner = ansible_runner.run(
            private_data_dir=data_dir, playbook=str(PLAYBOOKS / "net-config-ios.yml"), inventory=inventory,
            extravars={"config_dir": str(config_dir)}, forks=forks, quiet=True,
            envvars={**QUIET, "ANSIBLE_HOST_KEY_CHECKING": "False",
                     "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
        )  # fmt: skip
        changed = sum(
            1
            for e in runner.events
            if e.get("event") == "runner_on_ok" and e["event_data"]["res"].get("changed")
        )
        if runner.status != "successful":
            print(runner.stdout.read(), file=sys.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return str(runner.status), changed, round(cpu, 2)


def _recapacity(net: Network, capacity: int) -> Network:
    """The same estate with every link at `capacity`: every router's link descriptions change."""
    links = [k.model_copy(update={"capacity": capacity}) for k in net.links]
    return net.model_copy(update={"links": links})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("plan-render", "push", "ansible"))
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--routers", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run = {"plan-render": lambda: bench_plan_render(args.sites), "push": lambda: bench_push(args.routers),
           "ansible": lambda: bench_ansible(args.routers)}  # fmt: skip
    figures = run[args.what]()
    figures["calibration_s"] = round(calibrate(), 3)
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
