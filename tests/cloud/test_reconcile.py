"""The reconciler on a real Keystone and Neutron: apply builds what the plan says, a second apply changes
nothing, diff and drift read the live cloud, and drift --fix undoes changes made behind its back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.planner import plan_estate
from cloud.quarantine import quarantine_port, release_port
from egovops.audit import AuditTrail
from tests.cloud.helpers import cli, small_estate, write_small
from tests.components.openstack import OpenStackServers

NAME = "recon"
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")


@pytest.fixture(scope="module")
def applied(
    openstack_servers: OpenStackServers,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, Any], Path]]:
    """The small city applied once for the module: (estate file, first apply's JSON, audit trail)."""
    tmp = tmp_path_factory.mktemp(NAME)
    audit = tmp / "audit.log"
    env = {
        "OS_CLIENT_CONFIG_FILE": str(openstack_servers.clouds_yaml),
        "EGOVOPS_RESPONSE__AUDIT_LOG": str(audit),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    estate = write_small(tmp, NAME)
    code, first = cli("tenant", "apply", "--estate", str(estate), "--cloud", openstack_servers.cloud, "--yes")
    assert code == 0, first
    yield estate, first, audit
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def project(admin: Any, tenant: str) -> Any:
    return admin.identity.find_project(tenant, domain_id=admin.identity.find_domain(NAME).id)


def test_first_apply_creates_the_plan(applied: tuple[Path, dict[str, Any], Path]) -> None:
    _, first, audit = applied
    planned = len(plan_estate(small_estate(NAME)).resources)
    # quotas exist from the start (they are updated); no nova-api here, so compute quotas are skipped
    assert (first["created"], first["updated"], first["deleted"], first["failed"], first["skipped"]) == (
        planned - 4,
        2,
        0,
        0,
        2,
    )
    assert len(first["results"]) == planned
    result = next(r for r in first["results"] if r["resource"] == "network:alpha/alpha-app")
    assert result["outcome"] == "created" and result["changed"] is True and len(result["id"]) == 36
    trail = AuditTrail(audit)
    assert trail.verify().ok
    records = list(trail.records())
    ports = [r.target for r in records if r.target.startswith("port:")]  # a router port per tenant network
    assert sorted(ports) == [
        "port:alpha/egovops-rif-alpha-app",
        "port:alpha/egovops-rif-alpha-db",
        "port:beta/egovops-rif-beta-app",
    ]
    assert len(records) == planned - 2 + len(ports)
    assert {r.action for r in records} == {"cloud.create", "cloud.update"}
    assert records[0].target == f"domain:_cloud/{NAME}"


def test_the_live_cloud_holds_what_was_planned(
    applied: tuple[Path, dict[str, Any], Path], admin: Any
) -> None:
    alpha, beta = project(admin, "alpha"), project(admin, "beta")
    assert alpha.description == "测试市政务服务数据管理局"
    v6 = admin.network.find_subnet("alpha-db-v6", project_id=alpha.id)
    assert (v6.ipv6_ra_mode, v6.ipv6_address_mode) == ("dhcpv6-stateful", "dhcpv6-stateful")
    assert v6.cidr.startswith("2001:db8:91:") and v6.cidr.endswith("/64")  # delegated from the plane's pool
    assert v6.subnet_pool_id == admin.network.find_subnet_pool(f"{NAME}-biz-v6").id
    app = admin.network.find_network("alpha-app", project_id=alpha.id)
    shares = list(admin.network.rbac_policies(object_id=app.id, action="access_as_shared"))
    assert [p.target_project_id for p in shares] == [beta.id]
    router = admin.network.find_router("beta-router", project_id=beta.id)
    assert router.external_gateway_info["network_id"] == admin.network.find_network(f"{NAME}-plane-exit").id
    interfaces = list(admin.network.ports(device_id=router.id, device_owner="network:router_interface"))
    # one port holds the gateway address of both subnets of the network
    subnets = {s.id: s for s in admin.network.subnets(project_id=beta.id)}
    assert [
        sorted((subnets[ip["subnet_id"]].name, ip["ip_address"]) for ip in p.fixed_ips) for p in interfaces
    ] == [sorted((s.name, s.gateway_ip) for s in subnets.values())]
    group = admin.network.find_security_group("alpha-baseline", project_id=alpha.id)
    rules = list(admin.network.security_group_rules(security_group_id=group.id))
    assert sorted((r.direction, r.protocol, r.port_range_min, r.remote_ip_prefix) for r in rules) == [
        ("ingress", "ipv6-icmp", None, "2001:db8::/32"),
        ("ingress", "tcp", 22, "10.90.0.0/28"),
        ("ingress", "tcp", 443, "10.0.0.0/8"),
        ("ingress", "tcp", 5432, "10.91.3.0/24"),
        ("ingress", "tcp", 5432, "2001:db8:91:3::/64"),
    ]  # no egress rule at all: Neutron's defaults were removed, the baseline denies
    assert admin.network.get_quota(alpha.id).networks == 5
    roles = {a.role["id"] for a in admin.identity.role_assignments(scope_project_id=alpha.id)}
    assert roles == {admin.identity.find_role("admin").id, admin.identity.find_role("reader").id}


def test_a_second_apply_changes_nothing(applied: tuple[Path, dict[str, Any], Path], cloud: str) -> None:
    estate, first, _ = applied
    code, second = cli("tenant", "apply", "--estate", str(estate), "--cloud", cloud, "--yes")
    assert code == 0
    assert (second["created"], second["updated"], second["deleted"], second["failed"]) == (0, 0, 0, 0)
    assert second["unchanged"] == first["created"] + first["updated"]
    code, diff = cli("tenant", "diff", "--estate", str(estate), "--cloud", cloud)
    assert (code, diff["dry_run"], diff["changed"]) == (0, True, False)


def test_drift_is_reported_per_field_and_re_converged(
    applied: tuple[Path, dict[str, Any], Path], cloud: str, admin: Any
) -> None:
    estate, _, _ = applied
    alpha = project(admin, "alpha")
    group = admin.network.find_security_group("alpha-baseline", project_id=alpha.id)
    added = admin.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        ether_type="IPv4",
        protocol="tcp",
        port_range_min=3389,
        port_range_max=3389,
        remote_ip_prefix="0.0.0.0/0",
    )
    beta = project(admin, "beta")
    admin.network.update_subnet(
        admin.network.find_subnet("beta-app-v4", project_id=beta.id), is_dhcp_enabled=False
    )
    network = admin.network.find_network("alpha-app", project_id=alpha.id)
    port = admin.network.create_port(
        network_id=network.id, project_id=alpha.id, security_group_ids=[group.id]
    )
    other = admin.network.create_security_group(name="opened-by-hand", project_id=alpha.id)
    admin.network.update_port(port, security_group_ids=[other.id])

    code, report = cli("tenant", "drift", "--estate", str(estate), "--cloud", cloud)
    assert code == 1
    rows = {(d["resource"], d["field"]): (d["expected"], d["actual"], d["item"]) for d in report["drift"]}
    assert rows == {
        ("subnet:beta/beta-app-v4", "is_dhcp_enabled"): (True, False, "8.1.2.1 c)"),
        (f"security_group_rule:alpha/alpha-baseline:{added.id}", "exists"): (
            False,
            "ingress-tcp-3389-3389-0.0.0.0/0",
            "8.1.3.2 a)",
        ),
        (f"port:alpha/{port.id}", "security_group_ids"): ([group.id], [other.id], "8.2.3.1 a)"),
    }

    code, fixed = cli("tenant", "drift", "--estate", str(estate), "--cloud", cloud, "--fix", "--yes")
    assert code == 0 and fixed["fixed"]["failed"] == 0
    assert admin.network.get_port(port.id).security_group_ids == [group.id]
    assert admin.network.find_subnet("beta-app-v4", project_id=beta.id).is_dhcp_enabled is True
    assert admin.network.find_security_group_rule(added.id) is None
    code, after = cli("tenant", "drift", "--estate", str(estate), "--cloud", cloud)
    assert (code, after["drifted"]) == (0, 0)
    admin.network.delete_port(port)
    admin.network.delete_security_group(other)


def test_apply_refuses_a_plan_that_breaks_policy(
    applied: tuple[Path, dict[str, Any], Path], cloud: str, tmp_path: Path
) -> None:
    estate, _, _ = applied
    bad = tmp_path / "bad.yaml"
    bad.write_text(estate.read_text(encoding="utf-8").replace("remote: 10.90.0.0/28", "remote: 0.0.0.0/0"))
    code, report = cli("tenant", "apply", "--estate", str(bad), "--cloud", cloud, "--yes")
    assert code == 5
    assert "management-port-open (等保 8.1.3.2 c))" in report["error"]
    assert "nothing was changed" in report["error"]


def test_a_quarantined_port_is_contained_undone_and_never_drift(
    applied: tuple[Path, dict[str, Any], Path], cloud: str, admin: Any
) -> None:
    estate, _, _ = applied
    alpha = project(admin, "alpha")
    baseline = admin.network.find_security_group("alpha-baseline", project_id=alpha.id)
    network = admin.network.find_network("alpha-app", project_id=alpha.id)
    port = admin.network.create_port(
        network_id=network.id, project_id=alpha.id, security_group_ids=[baseline.id]
    )

    contained = quarantine_port(admin, port.id)
    group = admin.network.get_security_group(contained.group)
    assert (group.name, group.security_group_rules) == ("egovops-quarantine", [])  # deny-all, both ways
    assert admin.network.get_port(port.id).security_group_ids == [group.id]
    assert contained.previous == [baseline.id]
    code, report = cli("tenant", "drift", "--estate", str(estate), "--cloud", cloud)
    assert (code, report["drifted"]) == (0, 0)

    release_port(admin, contained)
    assert admin.network.get_port(port.id).security_group_ids == [baseline.id]
    admin.network.delete_port(port)


@pytest.mark.parametrize("command", [("apply", "--yes"), ("diff",), ("drift",)])
def test_a_cloud_missing_from_clouds_yaml_is_named_by_every_reading_command(
    applied: tuple[Path, dict[str, Any], Path], command: tuple[str, ...]
) -> None:
    """These commands read the cloud while the plan is made (cloud.read_ahead): its errors still come
    out as the one-line configuration error, not a traceback from the reading thread."""
    estate, _, _ = applied
    code, answer = cli("tenant", *command, "--estate", str(estate), "--cloud", "no-such-cloud")
    assert code == 3
    assert "no-such-cloud" in answer["error"] and "clouds.yaml" in answer["error"]
