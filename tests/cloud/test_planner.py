"""The planner: what the small test city becomes in OpenStack terms."""

from __future__ import annotations

from cloud.plan import CLOUD, Kind
from cloud.planner import plan_estate
from tests.cloud.helpers import small_estate


def test_counts_per_kind() -> None:
    plan = plan_estate(small_estate())
    assert plan.counts() == {
        Kind.DOMAIN: 1,
        Kind.NETWORK: 5,
        Kind.SUBNET: 10,
        Kind.SUBNET_POOL: 1,
        Kind.PROJECT: 2,
        Kind.USER: 3,
        Kind.ROLE_ASSIGNMENT: 3,
        Kind.NETWORK_QUOTA: 2,
        Kind.COMPUTE_QUOTA: 2,
        Kind.RBAC_POLICY: 2,
        Kind.ROUTER: 2,
        Kind.ROUTER_INTERFACE: 6,
        Kind.SECURITY_GROUP: 2,
        Kind.SECURITY_GROUP_RULE: 7,
    }


def test_every_tenant_network_is_dual_stack_with_its_ipv6_mode() -> None:
    plan = plan_estate(small_estate())
    v6 = {r.name: r for r in plan.resources if r.kind is Kind.SUBNET and r.props["ip_version"] == 6}
    assert v6["alpha-app-v6"].props == {
        "ip_version": 6,
        "cidr": "2001:db8:91:1::/64",
        "ipv6_ra_mode": "slaac",
        "ipv6_address_mode": "slaac",
        "is_dhcp_enabled": True,
    }
    delegated = v6["alpha-db-v6"]
    assert "cidr" not in delegated.props and delegated.hints == {"prefix_length": 64}
    assert delegated.props["ipv6_address_mode"] == "dhcpv6-stateful"
    assert delegated.refs["subnet_pool_id"] == "subnet_pool:_cloud/testcity-biz-v6"
    v4 = next(r for r in plan.resources if r.name == "alpha-app-v4")
    assert v4.props["gateway_ip"] == "10.91.1.1"


def test_sharing_is_per_tenant_and_routers_take_the_exit_plane() -> None:
    plan = plan_estate(small_estate())
    rbac = {
        (r.refs["object_id"], r.refs["target_project_id"])
        for r in plan.resources
        if r.kind is Kind.RBAC_POLICY
    }
    assert rbac == {
        ("network:alpha/alpha-app", "project:beta/beta"),
        ("network:_cloud/testcity-plane-public", "project:alpha/alpha"),
    }
    public = plan.get("network:_cloud/testcity-plane-public")
    assert public.props["is_shared"] is False and public.props["provider_segmentation_id"] == 110
    router = plan.get("router:beta/beta-router")
    assert router.refs["external_network_id"] == "network:_cloud/testcity-plane-exit"
    assert plan.get("network:_cloud/testcity-plane-exit").props["is_router_external"] is True


def test_baseline_denies_all_but_the_openings() -> None:
    plan = plan_estate(small_estate())
    rules = sorted(
        r.name for r in plan.resources if r.kind is Kind.SECURITY_GROUP_RULE and r.tenant == "alpha"
    )
    assert rules == [
        "alpha-baseline:ingress-ipv6-icmp-any-2001:db8::/32",
        "alpha-baseline:ingress-tcp-22-22-10.90.0.0/28",
        "alpha-baseline:ingress-tcp-443-443-10.0.0.0/8",
        # tenant:beta expands to beta's networks, both families
        "alpha-baseline:ingress-tcp-5432-5432-10.91.3.0/24",
        "alpha-baseline:ingress-tcp-5432-5432-2001:db8:91:3::/64",
    ]


def test_layers_put_every_resource_after_what_it_refers_to() -> None:
    plan = plan_estate(small_estate())
    seen: set[str] = set()
    for layer in plan.layers():
        for resource in layer:
            assert set(resource.refs.values()) <= seen, resource.key
        seen |= {r.key for r in layer}
    assert len(seen) == len(plan.resources)


def test_one_tenant_brings_only_what_it_needs() -> None:
    plan = plan_estate(small_estate()).only(["beta"])
    assert plan.tenants() == ["beta"]
    assert {r.key for r in plan.resources if r.tenant == CLOUD} == {
        "domain:_cloud/testcity",
        "network:_cloud/testcity-plane-exit",
        "subnet:_cloud/testcity-plane-exit-v4",  # a plane network comes with its subnets
        "subnet:_cloud/testcity-plane-exit-v6",
        "subnet_pool:_cloud/testcity-biz-v6",
    }
