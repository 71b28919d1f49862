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

from cloud.planner import plan_estate
from egovops.audit import AuditTrail
from tests.cloud.helpers import REPO, cli, small_estate, write_small
from tests.components.openstack import OpenStackServers

NAME = "resume"
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
    made = kill_after(20, argv, env, audit)
    planned = len(plan_estate(small_estate(NAME)).resources)
    assert 20 <= made < planned - 2

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
