"""An apply killed half way (SIGKILL of a real `egovops` process) is finished by the next run with nothing
duplicated; destroy is a dry run unless --yes, and then leaves nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from openstack.exceptions import SDKException

from cloud.interfaces import InterfaceGroup
from cloud.plan import Kind
from cloud.planner import plan_estate
from cloud.reconciler import Outcome, Reconciler
from egovops.audit import AuditTrail
from egovops.estate import parse_estate
from tests.cloud.helpers import REPO, cli, small_estate, small_text, write_small
from tests.components.openstack import OpenStackServers

NAME = "resume"
LOOSE = "loose"
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")


def kill_after(records: int, argv: list[str], env: dict[str, str], audit: Path, timeout: float = 120) -> int:
    """Run egovops, SIGKILL it once the audit trail holds `records` changes; how many it had made."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "egovops", *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trail = AuditTrail(audit)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if audit.exists() and sum(1 for _ in trail.records()) >= records:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the apply finished before it could be interrupted"
    return sum(1 for _ in trail.records())


def live_names(admin: Any, domain_id: str) -> Counter[str]:
    """Every managed object's name (or match fields) in the test domain, counted."""
    projects = {p.id for p in admin.identity.projects(domain_id=domain_id)}
    names: Counter[str] = Counter(f"project:{p}" for p in projects)
    names.update(f"user:{u.name}" for u in admin.identity.users(domain_id=domain_id))
    networks = [n for n in admin.network.networks() if n.project_id in projects]
    names.update(f"network:{n.name}" for n in networks)
    names.update(f"subnet:{s.name}" for s in admin.network.subnets() if s.project_id in projects)
    names.update(f"router:{r.name}" for r in admin.network.routers() if r.project_id in projects)
    names.update(
        f"port:{p.name}:{p.device_id}"
        for p in admin.network.ports(device_owner="network:router_interface")
        if p.project_id in projects
    )
    names.update(
        f"rule:{r.security_group_id}/{r.direction}/{r.ether_type}/{r.protocol}/{r.port_range_min}/"
        f"{r.remote_ip_prefix}/{r.remote_group_id}"
        for r in admin.network.security_group_rules()
        if r.project_id in projects
    )
    names.update(
        f"rbac:{p.object_id}>{p.target_project_id}"
        for p in admin.network.rbac_policies(action="access_as_shared")
        if p.object_id in {n.id for n in networks}
    )
    return names


def test_killed_apply_resumes_without_duplicates_then_destroy(
    openstack_servers: OpenStackServers, cloud: str, admin: Any, tmp_path: Path
) -> None:
    estate = write_small(tmp_path, NAME, segment=111, exit_network="physnet-resume")
    audit = tmp_path / "killed-audit.log"
    env = {**openstack_servers.env(), "EGOVOPS_RESPONSE__AUDIT_LOG": str(audit), "PYTHONWARNINGS": "ignore"}
    argv = ["tenant", "apply", "--estate", str(estate), "--cloud", cloud, "--yes", "--json"]
    assert kill_after(20, argv, env, audit) >= 20
    made = sum(1 for r in AuditTrail(audit).records() if not r.target.startswith("port:"))  # resources
    planned = len(plan_estate(small_estate(NAME)).resources)
    assert made < planned - 2

    code, rerun = cli(*argv[:-1])
    assert code == 0 and rerun["failed"] == 0
    assert 0 < rerun["created"] <= planned - made  # what the killed run made is found, not made again
    domain = admin.identity.find_domain(NAME)
    names = live_names(admin, domain.id)
    assert [name for name, count in names.items() if count > 1] == []
    assert sum(1 for n in names if n.startswith("network:")) == 3
    assert sum(1 for n in names if n.startswith("subnet:")) == 6
    baselines = {g.id for g in admin.network.security_groups() if g.name.endswith("-baseline")}
    assert sum(1 for n in names if n.startswith("rule:") and n[5:41] in baselines) == 7
    code, again = cli(*argv[:-1])
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)

    code, dry = cli("tenant", "destroy", "--estate", str(estate), "--cloud", cloud)
    # all but the compute quotas (no nova-api here); network quotas are reset to the defaults
    assert (code, dry["dry_run"], dry["deleted"]) == (0, True, planned - 2)
    assert live_names(admin, domain.id) == names

    projects = {p.id for p in admin.identity.projects(domain_id=domain.id)}
    code, gone = cli("tenant", "destroy", "--estate", str(estate), "--cloud", cloud, "--yes")
    assert (code, gone["dry_run"], gone["failed"]) == (0, False, 0)
    assert admin.identity.find_domain(NAME) is None
    left = [n.name for n in admin.network.networks() if n.project_id in projects or n.name.startswith(NAME)]
    assert left == []
    assert [p.name for p in admin.network.subnet_pools() if p.name.startswith(NAME)] == []
    code, twice = cli("tenant", "destroy", "--estate", str(estate), "--cloud", cloud, "--yes")
    assert (code, twice["deleted"]) == (0, 0)


def router_ports(admin: Any, domain: str) -> dict[str, Any]:
    projects = {p.id for p in admin.identity.projects(domain_id=admin.identity.find_domain(domain).id)}
    return {
        p.name: p
        for p in admin.network.ports(device_owner="network:router_interface")
        if p.project_id in projects
    }


def test_a_router_port_made_but_never_attached_is_adopted_or_destroyed(
    openstack_servers: OpenStackServers, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that dies between making the ports and attaching them (here: every attach fails) leaves
    named ports holding the gateway addresses: the next apply attaches them, destroy removes them."""
    plan = plan_estate(parse_estate(small_text(LOOSE, segment=113, exit_network="physnet-loose")))
    reconciler = Reconciler(plan, openstack_servers.connect)

    def dies(conn: Any, group: InterfaceGroup, port: Any) -> None:
        raise SDKException("killed before the attach")

    with monkeypatch.context() as patch:
        patch.setattr("cloud.reconciler.attach", dies)
        first = reconciler.apply()
    interfaces = [r for r in first.results if r.kind == Kind.ROUTER_INTERFACE]
    assert {r.outcome for r in interfaces} == {Outcome.FAILED} and len(interfaces) == 6
    loose = router_ports(admin, LOOSE)
    names = ["egovops-rif-alpha-app", "egovops-rif-alpha-db", "egovops-rif-beta-app"]
    assert sorted(loose) == names and all(p.device_id == "" for p in loose.values())

    second = reconciler.apply()
    assert second.failed == 0
    adopted = {r.id or "" for r in second.results if r.kind == Kind.ROUTER_INTERFACE}
    assert sorted(adopted) == sorted(p.id for p in loose.values())
    attached = router_ports(admin, LOOSE)
    assert sorted(attached) == names and all(p.device_id for p in attached.values())

    assert reconciler.destroy(dry_run=False).failed == 0
    with monkeypatch.context() as patch:
        patch.setattr("cloud.reconciler.attach", dies)
        reconciler.apply()
    projects = {p.id for p in admin.identity.projects(domain_id=admin.identity.find_domain(LOOSE).id)}
    gone = reconciler.destroy(dry_run=False)
    assert gone.failed == 0
    assert sorted(r.resource for r in gone.results if r.kind == "port") == [
        "port:alpha/egovops-rif-alpha-app",
        "port:alpha/egovops-rif-alpha-db",
        "port:beta/egovops-rif-beta-app",
    ]
    assert admin.identity.find_domain(LOOSE) is None
    assert [n.name for n in admin.network.networks() if n.project_id in projects] == []
