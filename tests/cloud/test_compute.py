"""nova-api 34 on the session's Keystone: flavors and compute quotas are real, and the reconciler's compute
quota path sets what the estate plans and reads it back as unchanged. No servers are booted (no
conductor, scheduler, Placement or computes run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.actions import differences
from cloud.compute_quota import read_compute_quota
from cloud.plan import Kind
from cloud.planner import plan_estate
from cloud.sdk import Reader
from egovops.estate import parse_estate
from tests.cloud.helpers import cli, write_small
from tests.components.openstack import OpenStackServers, nova_api

__all__ = ["nova_api"]
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
NAME = "computecity"


@pytest.fixture
def project(admin: Any, nova_api: OpenStackServers) -> Iterator[Any]:
    found = admin.identity.create_project(name="compute-quota", domain_id="default")
    yield found
    admin.identity.delete_project(found)


def test_compute_is_in_the_catalog_while_nova_runs(admin: Any, nova_api: OpenStackServers) -> None:
    assert "compute" in {s.type for s in admin.identity.services()}
    assert admin.compute.get("/").json()["version"]["id"] == "v2.1"


def test_flavor_create_read_delete(admin: Any, nova_api: OpenStackServers) -> None:
    flavor = admin.compute.create_flavor(name="egovops.m1", vcpus=2, ram=4096, disk=40, is_public=True)
    try:
        found = admin.compute.find_flavor("egovops.m1", ignore_missing=False)
        assert (found.id, found.vcpus, found.ram, found.disk, found.is_public) == (
            flavor.id,
            2,
            4096,
            40,
            True,
        )
        assert "egovops.m1" in {f.name for f in admin.compute.flavors()}
    finally:
        admin.compute.delete_flavor(flavor)
    assert admin.compute.find_flavor("egovops.m1") is None


def test_compute_quota_set_read_and_revert(admin: Any, project: Any) -> None:
    defaults = admin.compute.get_quota_set(project.id)
    admin.compute.update_quota_set(project.id, cores=48, ram=96 * 1024, instances=12)
    limits = admin.compute.get_quota_set(project.id, usage=True)
    assert (limits.cores, limits.ram, limits.instances) == (48, 96 * 1024, 12)
    assert (limits.usage["cores"], limits.usage["ram"], limits.usage["instances"]) == (0, 0, 0)
    admin.compute.revert_quota_set(project.id)
    reverted = admin.compute.get_quota_set(project.id)
    assert (reverted.cores, reverted.ram, reverted.instances) == (
        defaults.cores,
        defaults.ram,
        defaults.instances,
    )


def test_reconciler_sets_compute_quotas_from_the_estate(
    admin: Any, nova_api: OpenStackServers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tenant apply` sets each tenant's Nova quotas; read back, they match the plan field for field; a
    second apply changes nothing, and after a limit is changed behind its back it updates that one."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(nova_api.clouds_yaml))
    monkeypatch.setenv("EGOVOPS_RESPONSE__AUDIT_LOG", str(tmp_path / "audit.log"))
    estate = write_small(tmp_path, NAME, segment=114, exit_network="physnet-compute")
    code, applied = cli("tenant", "apply", "--estate", str(estate), "--cloud", nova_api.cloud, "--yes")
    assert (code, applied["failed"], applied["skipped"]) == (0, 0, 0), applied
    try:
        quotas = [
            r for r in plan_estate(parse_estate(estate.read_text(), str(estate))).resources
            if r.kind is Kind.COMPUTE_QUOTA
        ]  # fmt: skip
        domain = admin.identity.find_domain(NAME)
        projects = {p.name: p.id for p in admin.identity.projects(domain_id=domain.id)}
        assert {r.tenant for r in quotas} == set(projects) == {"alpha", "beta"}
        reader = Reader.of_connection(admin)
        for resource in quotas:
            live = read_compute_quota(reader, projects[resource.tenant], resource.props)
            assert differences(resource, live, {}) == {}
        alpha = next(r for r in quotas if r.tenant == "alpha")
        assert alpha.props == {"cores": 40, "ram": 160 * 1024, "instances": alpha.props["instances"]}
        code, again = cli("tenant", "apply", "--estate", str(estate), "--cloud", nova_api.cloud, "--yes")
        assert (code, again["created"], again["updated"], again["deleted"]) == (0, 0, 0, 0), again
        admin.compute.update_quota_set(projects["alpha"], cores=8)
        drifted = read_compute_quota(reader, projects["alpha"], alpha.props)
        assert differences(alpha, drifted, {}) == {"cores": (40, 8)}
        code, fixed = cli("tenant", "apply", "--estate", str(estate), "--cloud", nova_api.cloud, "--yes")
        assert (code, fixed["created"], fixed["updated"], fixed["deleted"]) == (0, 0, 1, 0), fixed
        assert admin.compute.get_quota_set(projects["alpha"]).cores == 40
    finally:
        code, destroyed = cli(
            "tenant", "destroy", "--estate", str(estate), "--cloud", nova_api.cloud, "--yes"
        )  # fmt: skip
        assert (code, destroyed["failed"]) == (0, 0), destroyed
