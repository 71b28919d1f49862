"""Provisioning gov-cloud tenants: `egovops tenant apply` versus Ansible's `openstack.cloud` modules, on
the same real Keystone + Neutron (tests/components/openstack.py), each run on fresh databases.

Each tenant is a project, a user with a role, two networks with an IPv4 and an IPv6 subnet each, a router
on all four subnets and a baseline security group with 6 rules (plus the shared domain and IPv6 subnet
pool). egovops runs as a user would (`egovops tenant apply --yes --json`, 4 workers), then `--again` times
more with nothing to change (the median is reported); Ansible runs `playbooks/cloud/tenants.yml` through
ansible-runner with one inventory host per tenant and 4 forks (its variables are built from the same
plan). Both end states are read back and compared: projects, users' roles, networks, subnets, router
interfaces, security-group rules. Wall and CPU time (this process's children) are printed side by side
with the calibration figure.

Neutron's write requests of the first egovops apply are counted per method and path (egovops notes them).

    .venv/bin/python benchmarks/bench_tenants.py [--tenants 20] [--only egovops] [--again 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from cloud.live import identity
from cloud.plan import CLOUD, Kind, Plan
from cloud.planner import plan_estate
from egovops.estate import load_estate
from tests.components.openstack import OpenStackServers, launch, shutdown

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / "playbooks/cloud/tenants.yml"
WORKERS = 4
APPLY = ("--yes", "--json")
SDK_VERSION_SHIM = "import openstack.version  # noqa: F401\n"
"""openstack.cloud 2.5 reads `openstack.version`, which openstacksdk 4.22 no longer imports itself ("module
'openstack' has no attribute 'version'" in every module): a sitecustomize for Ansible's processes only."""
REQUEST_LOG_SHIM = """\
import os

from keystoneauth1 import session

_request = session.Session.request


def _logged(self, url, method, *args, **kwargs):
    service = (kwargs.get("endpoint_filter") or {}).get("service_type")
    with open(os.environ["EGOVOPS_BENCH_REQUESTS"], "a", encoding="utf-8") as log:
        log.write(f"{service} {method} {url}\\n")
    return _request(self, url, method, *args, **kwargs)


session.Session.request = _logged
"""
"""Neutron logs no requests under gunicorn: egovops's own process notes each one it sends (a sitecustomize
for the benchmark's egovops runs only)."""
NO_BYTECODE = "PYTHONDONTWRITEBYTECODE"
"""Set on these machines; a user's egovops runs from compiled modules (pip compiles what it installs, and
Python caches the repository's own on the first run: the first apply), so the no-change run does too
(0.1-0.2 s of its CPU)."""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")
NEUTRON_RULE = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix")
OPENINGS = (
    "{protocol: tcp, ports: '443', remote: 10.0.0.0/8}",
    "{protocol: tcp, ports: '443', remote: '2001:db8::/32'}",
    "{protocol: tcp, ports: '22', remote: 10.90.0.0/28}",
    "{protocol: icmp, remote: 10.0.0.0/8}",
    "{protocol: icmp, remote: '2001:db8::/32'}",
    "{protocol: udp, ports: '53', remote: 10.90.0.0/24, direction: egress}",
)


def estate_text(tenants: int) -> str:
    """A city with `tenants` departments, each shaped as the issue's benchmark says."""
    lines = [
        "version: 1",
        "name: bench",
        "city: 基准市",
        "admin: {name: 基准市, level: city}",
        "cloud:",
        "  name: 基准节点",
        "  pools: [{name: general, vcpu: 100000, ram_gb: 400000, storage_tb: 1000}]",
        "planes:",
        '  - {name: biz, ipv4: 10.128.0.0/9, ipv6: "2001:db8:100::/40"}',
        "tenants:",
    ]
    for i in range(tenants):
        lines += [
            f"  - name: t{i:03d}",
            f"    title: 部门{i}",
            "    pool: general",
            "    quota: {vcpu: 40, ram_gb: 160}",
            "    people: [{name: ops, roles: [member]}]",
            "    networks:",
            *(
                f"      - {{name: {net}, plane: biz, ipv4: 10.{128 + i // 64}.{(i % 64) * 4 + n}.0/24, "
                f'ipv6: "2001:db8:1{i:02x}:{n + 1}::/64"}}'
                for n, net in enumerate(("app", "db"))
            ),
            "    openings:",
            *(f"      - {opening}" for opening in OPENINGS),
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def servers() -> Iterator[OpenStackServers]:
    """Fresh Keystone + Neutron (databases from the fixture's template): the cleaning between runs."""
    started = launch()
    try:
        yield started
    finally:
        shutdown(started)


def timed(step: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process and its children, result)."""

    def cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    wall, used = time.monotonic(), cpu()
    result = step()
    return time.monotonic() - wall, cpu() - used, result


def egovops_apply(srv: OpenStackServers, estate: Path, audit: Path, requests: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            str(REPO / ".venv/bin/egovops"),
            "tenant",
            "apply",
            "--estate",
            str(estate),
            "--cloud",
            srv.cloud,
            *APPLY,
        ],
        env={
            **{k: v for k, v in srv.env().items() if k != NO_BYTECODE},
            "EGOVOPS_RESPONSE__AUDIT_LOG": str(audit),
            "EGOVOPS_CLOUD__WORKERS": str(WORKERS),
            "EGOVOPS_BENCH_REQUESTS": str(requests),
            "PYTHONPATH": str(audit.parent / "shim"),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"egovops tenant apply failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr}"
        )
    report: dict[str, Any] = json.loads(done.stdout)
    return {k: report[k] for k in ("created", "updated", "deleted", "unchanged", "failed", "skipped")}


def ansible_vars(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """(play variables, per-tenant host variables) for playbooks/cloud/tenants.yml, from the plan."""
    by_kind: dict[Kind, list[Any]] = {}
    for r in plan.resources:
        by_kind.setdefault(r.kind, []).append(r)
    domain = by_kind[Kind.DOMAIN][0]
    pool = by_kind[Kind.SUBNET_POOL][0]
    hosts: dict[str, Any] = {}
    for tenant in plan.tenants():
        if tenant == CLOUD:
            continue
        mine = {kind: [r for r in items if r.tenant == tenant] for kind, items in by_kind.items()}
        networks = [
            {
                "name": net.name,
                "subnets": [
                    {
                        "name": s.name,
                        **{k: v for k, v in s.props.items() if k != "is_dhcp_enabled"},
                        "from_pool": "subnet_pool_id" in s.refs,
                    }
                    for s in mine[Kind.SUBNET]
                    if s.refs["network_id"] == net.key
                ],
            }
            for net in mine[Kind.NETWORK]
        ]
        group = mine[Kind.SECURITY_GROUP][0]
        hosts[tenant] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "project": {"name": tenant, "description": mine[Kind.PROJECT][0].props["description"]},
            "user": {"name": mine[Kind.USER][0].name},
            "role": mine[Kind.ROLE_ASSIGNMENT][0].props["role"],
            "networks": networks,
            "router": mine[Kind.ROUTER][0].name,
            "group": {"name": group.name, "description": group.props["description"]},
            "rules": [
                {
                    "direction": r.props["direction"],
                    "ether_type": r.props["ether_type"],
                    "protocol": r.props["protocol"],
                    "port_range_min": r.props["port_range_min"],
                    "port_range_max": r.props["port_range_max"],
                    "remote_ip_prefix": r.props["remote_ip_prefix"],
                }
                for r in mine[Kind.SECURITY_GROUP_RULE]
            ],
        }
    play = {
        "domain": {"name": domain.name, "description": domain.props["description"]},
        "pool": {k: pool.props[k] for k in ("prefixes", "default_prefix_length", "description")}
        | {"name": pool.name},
    }
    return play, hosts


def ansible_apply(srv: OpenStackServers, plan: Plan) -> None:
    import ansible_runner  # type: ignore[import-untyped]

    play, hosts = ansible_vars(plan)
    inventory = {
        "all": {
            "hosts": {
                "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
            },
            "children": {"tenants": {"hosts": hosts}},
        }
    }
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    with tempfile.TemporaryDirectory(prefix="egovops-bench-ansible-") as data_dir:
        shim = Path(data_dir) / "shim"
        shim.mkdir()
        (shim / "sitecustomize.py").write_text(SDK_VERSION_SHIM, encoding="utf-8")
        runner = ansible_runner.run(
            private_data_dir=data_dir,
            playbook=str(PLAYBOOK),
            inventory=inventory,
            extravars={**play, "cloud": srv.cloud},
            envvars={
                "OS_CLIENT_CONFIG_FILE": str(srv.clouds_yaml),
                "PYTHONPATH": str(shim),
                "PATH": path,
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_LOCALHOST_WARNING": "False",
            },
            forks=WORKERS,
            quiet=True,
        )
        if runner.status != "successful":
            raise SystemExit(f"the Ansible run failed ({runner.status}):\n{runner.stdout.read()[-4000:]}")


def end_state(srv: OpenStackServers, domain_name: str) -> dict[str, list[Any]]:
    """What both runs must have made, by name (ids differ): the comparison of their end states."""
    conn = srv.connect()
    keystone = identity(conn)
    domain = next(iter(keystone.domains(name=domain_name)))
    projects = {p.id: p.name for p in keystone.projects(domain_id=domain.id)}
    users = {u.id: u.name for u in keystone.users(domain_id=domain.id)}
    roles = {r.id: r.name for r in keystone.roles()}
    assignments = [
        (users[a.user["id"]], projects[a.scope["project"]["id"]], roles[a.role["id"]])
        for a in keystone.role_assignments()
        if (a.user or {}).get("id") in users and (a.scope or {}).get("project", {}).get("id") in projects
    ]
    owners = list(projects)
    net = conn.network
    networks = {n.id: n.name for n in net.networks(project_id=owners)}
    subnets = list(net.subnets(project_id=owners))
    subnet_names = {s.id: s.name for s in subnets}
    routers = {r.id: r.name for r in net.routers(project_id=owners)}
    groups = [g for g in net.security_groups(project_id=owners) if g.name != "default"]
    state: dict[str, list[Any]] = {
        "projects": sorted(projects.values()),
        "assignments": sorted(assignments),
        "networks": sorted(networks.values()),
        "subnets": sorted(
            (networks[s.network_id], s.name, s.cidr, s.gateway_ip, s.ipv6_ra_mode, s.ipv6_address_mode)
            for s in subnets
        ),
        "router_interfaces": sorted(
            (routers[p.device_id], subnet_names[ip["subnet_id"]])
            for p in net.ports(project_id=owners, device_owner="network:router_interface")
            for ip in p.fixed_ips
        ),
        "rules": sorted(
            (g.name, *(str(rule.get(f)) for f in NEUTRON_RULE))
            for g in groups
            for rule in g.security_group_rules or []
        ),
    }
    conn.close()
    return state


def compare(ours: dict[str, list[Any]], theirs: dict[str, list[Any]]) -> dict[str, Any]:
    """Per part of the end state: counts on each side and whether they are the same."""
    return {
        part: {"egovops": len(ours[part]), "ansible": len(theirs[part]), "same": ours[part] == theirs[part]}
        for part in ours
    }


def neutron_writes(requests: Path) -> dict[str, int]:
    """Neutron write requests in the shim's log, as "METHOD path" (ids elided) -> count: Neutron
    serialises requests on SQLite, so their number is what an apply's wall time follows."""
    counts: dict[str, int] = {}
    for line in requests.read_text(encoding="utf-8").splitlines():
        service, method, url = line.split(" ", 2)
        if service == "network" and method in ("POST", "PUT", "DELETE"):
            name = f"{method} {UUID.sub('{id}', url.split('?')[0])}"
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def egovops_runs(srv: OpenStackServers, estate: Path, audit: Path, again: int) -> dict[str, Any]:
    requests = audit.with_name("requests.log")
    (audit.parent / "shim").mkdir()
    (audit.parent / "shim/sitecustomize.py").write_text(REQUEST_LOG_SHIM, encoding="utf-8")
    first = timed(lambda: egovops_apply(srv, estate, audit, requests))
    writes = neutron_writes(requests)
    runs = [timed(lambda: egovops_apply(srv, estate, audit, requests)) for _ in range(again)]
    walls, cpus = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
    return {
        "egovops_first": {"wall_s": round(first[0], 1), "cpu_s": round(first[1], 1), **first[2]},
        "egovops_neutron_writes": {"total": sum(writes.values()), **writes},
        "egovops_no_change": {
            "wall_s": round(statistics.median(walls), 2),
            "cpu_s": round(statistics.median(cpus), 2),
            "runs_wall_s": [round(r[0], 2) for r in runs],
            "runs_cpu_s": [round(r[1], 2) for r in runs],
            "runs_that_changed": sum(any(r[2][k] for k in ("created", "updated", "deleted")) for r in runs),
            **runs[-1][2],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--only", choices=["egovops"], help="skip the Ansible side (and the comparison)")
    parser.add_argument(
        "--again", type=int, default=5, help="no-change re-applies after the first (median reported)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calibration = calibrate()
    with tempfile.TemporaryDirectory(prefix="egovops-bench-tenants-") as tmp:
        estate = Path(tmp) / "estate.yaml"
        estate.write_text(estate_text(args.tenants), encoding="utf-8")
        plan = plan_estate(load_estate(estate))
        with servers() as srv:
            ours = egovops_runs(srv, estate, Path(tmp) / "audit.log", args.again)
            our_state = end_state(srv, plan.domain)
        result: dict[str, Any] = {
            "tenants": args.tenants,
            "resources_planned": len(plan.resources),
            **ours,
            "calibration_s": calibration,
        }
        if args.only is None:
            with servers() as srv:
                ansible = timed(lambda: ansible_apply(srv, plan))
                their_state = end_state(srv, plan.domain)
            first_wall = ours["egovops_first"]["wall_s"]
            again = ours["egovops_no_change"]
            result |= {
                "ansible": {"wall_s": round(ansible[0], 1), "cpu_s": round(ansible[1], 1)},
                "speedup": round(ansible[0] / first_wall, 2),
                "floors": {
                    "speedup_at_least_3": ansible[0] / first_wall >= 3,
                    "no_change_under_2s": again["wall_s"] < 2,
                    "no_change_changed_nothing": again["runs_that_changed"] == 0,
                },
                "end_states": compare(our_state, their_state),
            }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    print(f"{args.tenants} tenants, {len(plan.resources)} planned resources, calibration {calibration:.3f} s")
    print(f"{'':28}{'wall s':>10}{'CPU s':>10}")
    first, again = result["egovops_first"], result["egovops_no_change"]
    print(f"{'egovops tenant apply':28}{first['wall_s']:10.1f}{first['cpu_s']:10.1f}")
    if "ansible" in result:
        theirs = result["ansible"]
        print(f"{'ansible openstack.cloud':28}{theirs['wall_s']:10.1f}{theirs['cpu_s']:10.1f}")
    print(f"{'egovops no-change re-apply':28}{again['wall_s']:10.2f}{again['cpu_s']:10.2f}   {again}")
    print(f"Neutron writes of the first apply: {result['egovops_neutron_writes']}")
    if "ansible" in result:
        print(f"speedup {result['speedup']}x; floors: {result['floors']}")
        for part, row in result["end_states"].items():
            print(f"  {part:18} egovops {row['egovops']:4}  ansible {row['ansible']:4}  same: {row['same']}")


if __name__ == "__main__":
    main()
