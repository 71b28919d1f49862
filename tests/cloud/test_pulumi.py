"""The Pulumi program under Pulumi's own unit-test mocks (no engine is packaged for these machines): the
resource graph of the test city has the expected resources, properties and dependencies."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pulumi
import pytest

from cloud.planner import plan_estate
from cloud.pulumi_program import build
from tests.cloud.helpers import small_estate
from tests.cloud.pulumi_mocks import MockOpenStack, run_under_mocks


@pytest.fixture(scope="module")
def program() -> tuple[MockOpenStack, dict[str, Any]]:
    """The test city's program run once under the mocks: (the mocks, the exported outputs per tenant)."""
    exported: dict[str, Any] = {}

    def program() -> pulumi.Output[Any]:
        estate = small_estate()
        outputs = build(estate, plan_estate(estate))
        return pulumi.Output.from_input(outputs).apply(exported.update)

    return run_under_mocks(program), exported


def created(mocks: MockOpenStack, typ: str) -> dict[str, dict[str, Any]]:
    return {a.name: a.inputs for a in mocks.created if a.typ == typ}


def test_the_resource_graph_has_every_planned_resource(program: tuple[MockOpenStack, dict[str, Any]]) -> None:
    mocks, _ = program
    types = Counter(a.typ for a in mocks.created)
    assert types == {
        "egovops:cloud:Planes": 1,
        "egovops:cloud:Tenant": 2,
        "openstack:identity/project:Project": 3,
        "openstack:identity/user:User": 3,
        "openstack:identity/roleAssignment:RoleAssignment": 3,
        "openstack:networking/quotaV2:QuotaV2": 2,
        "openstack:compute/quotaSetV2:QuotaSetV2": 2,
        "openstack:networking/subnetPool:SubnetPool": 1,
        "openstack:networking/network:Network": 5,
        "openstack:networking/subnet:Subnet": 10,
        "openstack:networking/rbacPolicyV2:RbacPolicyV2": 2,
        "openstack:networking/router:Router": 2,
        "openstack:networking/routerInterface:RouterInterface": 6,
        "openstack:networking/secGroup:SecGroup": 2,
        "openstack:networking/secGroupRule:SecGroupRule": 7,
    }


def test_properties_and_dependencies(program: tuple[MockOpenStack, dict[str, Any]]) -> None:
    mocks, _ = program
    subnets = created(mocks, "openstack:networking/subnet:Subnet")
    app_v6 = subnets["subnet-alpha-alpha-app-v6"]
    assert (app_v6["ipv6RaMode"], app_v6["ipv6AddressMode"], app_v6["cidr"]) == (
        "slaac",
        "slaac",
        "2001:db8:91:1::/64",
    )
    assert app_v6["networkId"] == "network-alpha-alpha-app-id"
    assert app_v6["subnetpoolId"] == "subnet_pool-_cloud-testcity-biz-v6-id"
    assert app_v6["tenantId"] == "project-alpha-alpha-id"
    delegated = subnets["subnet-alpha-alpha-db-v6"]
    assert "cidr" not in delegated and delegated["prefixLength"] == 64
    public = created(mocks, "openstack:networking/network:Network")["network-_cloud-testcity-plane-public"]
    assert public["segments"] == [
        {"networkType": "vlan", "physicalNetwork": "physnet1", "segmentationId": 110}
    ]
    assert public["shared"] is False
    router = created(mocks, "openstack:networking/router:Router")["router-beta-beta-router"]
    assert router["externalNetworkId"] == "network-_cloud-testcity-plane-exit-id"
    rbac = created(mocks, "openstack:networking/rbacPolicyV2:RbacPolicyV2")
    assert rbac["rbac_policy-alpha-alpha-app>beta"]["targetTenant"] == "project-beta-beta-id"
    roles = {a["roleId"] for a in created(mocks, "openstack:identity/roleAssignment:RoleAssignment").values()}
    assert roles == {"role-admin", "role-reader", "role-member"}
    group = created(mocks, "openstack:networking/secGroup:SecGroup")["security_group-alpha-alpha-baseline"]
    assert group["deleteDefaultRules"] is True
    projects = created(mocks, "openstack:identity/project:Project")
    assert projects["domain-_cloud-testcity"]["isDomain"] is True
    assert projects["project-alpha-alpha"]["tags"] == [
        "egovops",
        "system:统一申办受理平台:level=3:classified=false",
    ]


def test_stack_outputs_give_ids_cidrs_and_gateways(program: tuple[MockOpenStack, dict[str, Any]]) -> None:
    _, exported = program
    assert exported["beta"] == {
        "networks": {"beta-app": "network-beta-beta-app-id"},
        "subnets": {"beta-app-v4": "10.91.3.0/24", "beta-app-v6": "2001:db8:91:3::/64"},
        "router_gateways": {"beta-router": [{"ip_address": "100.64.9.10"}]},
    }
    assert set(exported["alpha"]["subnets"]) == {"alpha-app-v4", "alpha-app-v6", "alpha-db-v4", "alpha-db-v6"}
