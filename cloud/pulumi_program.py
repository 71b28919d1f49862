"""The Pulumi executor: the same plan as the reconciler, as `pulumi_openstack` resources.

One `egovops:cloud:Planes` component holds what belongs to the cloud (the domain, shared and external plane
networks, subnet pools) and one `egovops:cloud:Tenant` component per tenant holds the rest; a resource's
inputs take the ids of the resources its plan refs name, which is also how Pulumi learns the dependency
graph. Stack outputs are what a cloud admin asks for: network ids, subnet CIDRs, router gateway addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_openstack as openstack

from cloud.plan import CLOUD, Kind, Plan, Resource
from egovops.estate import CloudStatus, Estate

Args = dict[str, Any]


@dataclass(frozen=True)
class Mapping:
    """How a plan kind becomes a pulumi_openstack resource: the class, and props/refs renamed to its args."""

    build: Callable[..., pulumi.CustomResource]
    props: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str | None] = field(default_factory=dict)
    """plan ref -> resource arg; None: a dependency with no arg (an RBAC policy's owning project)."""
    named: bool = True
    extra: Callable[[Resource], Args] = lambda r: {}


def _segments(r: Resource) -> Args:
    if "provider_network_type" not in r.props:
        return {}
    segment = {
        "network_type": r.props["provider_network_type"],
        "physical_network": r.props["provider_physical_network"],
        "segmentation_id": r.props["provider_segmentation_id"],
    }
    return {"segments": [{k: v for k, v in segment.items() if v is not None}]}


def _role(r: Resource) -> Args:
    return {"role_id": openstack.identity.get_role_output(name=r.props["role"]).id}


def _extra_email(r: Resource) -> Args:
    return {"extra": {"email": r.props["email"]}} if r.props.get("email") else {}


TENANT = "tenant_id"
MAPPINGS: dict[Kind, Mapping] = {
    Kind.DOMAIN: Mapping(
        openstack.identity.Project, {"description": "description"}, extra=lambda r: {"is_domain": True}
    ),
    Kind.PROJECT: Mapping(
        openstack.identity.Project,
        {"description": "description", "is_enabled": "enabled"},
        {"domain_id": "domain_id"},
    ),
    Kind.USER: Mapping(
        openstack.identity.User,
        {"is_enabled": "enabled"},
        {"domain_id": "domain_id", "default_project_id": "default_project_id"},
        extra=_extra_email,
    ),
    Kind.ROLE_ASSIGNMENT: Mapping(
        openstack.identity.RoleAssignment,
        {},
        {"user_id": "user_id", "project_id": "project_id"},
        named=False,
        extra=_role,
    ),
    Kind.NETWORK_QUOTA: Mapping(
        openstack.networking.QuotaV2,
        {
            "networks": "network",
            "subnets": "subnet",
            "ports": "port",
            "routers": "router",
            "floating_ips": "floatingip",
            "security_groups": "security_group",
            "security_group_rules": "security_group_rule",
        },
        {"project_id": "project_id"},
        named=False,
    ),
    Kind.COMPUTE_QUOTA: Mapping(
        openstack.compute.QuotaSetV2,
        {"cores": "cores", "ram": "ram", "instances": "instances"},
        {"project_id": "project_id"},
        named=False,
    ),
    Kind.SUBNET_POOL: Mapping(
        openstack.networking.SubnetPool,
        {
            "prefixes": "prefixes",
            "default_prefix_length": "default_prefixlen",
            "ip_version": "ip_version",
            "is_shared": "shared",
            "description": "description",
        },
    ),
    Kind.NETWORK: Mapping(
        openstack.networking.Network,
        {"description": "description", "is_shared": "shared", "is_router_external": "external"},
        {"project_id": TENANT},
        extra=_segments,
    ),
    Kind.SUBNET: Mapping(
        openstack.networking.Subnet,
        {
            "ip_version": "ip_version",
            "cidr": "cidr",
            "gateway_ip": "gateway_ip",
            "is_dhcp_enabled": "enable_dhcp",
            "ipv6_ra_mode": "ipv6_ra_mode",
            "ipv6_address_mode": "ipv6_address_mode",
            "prefix_length": "prefix_length",
        },
        {"network_id": "network_id", "project_id": TENANT, "subnet_pool_id": "subnetpool_id"},
    ),
    Kind.RBAC_POLICY: Mapping(
        openstack.networking.RbacPolicyV2,
        {"object_type": "object_type", "action": "action"},
        {"object_id": "object_id", "target_project_id": "target_tenant", "project_id": None},
        named=False,
    ),
    Kind.ROUTER: Mapping(
        openstack.networking.Router,
        {"description": "description"},
        {"project_id": TENANT, "external_network_id": "external_network_id"},
    ),
    Kind.ROUTER_INTERFACE: Mapping(
        openstack.networking.RouterInterface,
        {},
        {"router_id": "router_id", "subnet_id": "subnet_id"},
        named=False,
    ),
    Kind.SECURITY_GROUP: Mapping(
        openstack.networking.SecGroup,
        {"description": "description"},
        {"project_id": TENANT},
        extra=lambda r: {"delete_default_rules": True},
    ),
    Kind.SECURITY_GROUP_RULE: Mapping(
        openstack.networking.SecGroupRule,
        {
            "direction": "direction",
            "ether_type": "ethertype",
            "protocol": "protocol",
            "port_range_min": "port_range_min",
            "port_range_max": "port_range_max",
            "remote_ip_prefix": "remote_ip_prefix",
            "description": "description",
        },
        {"security_group_id": "security_group_id", "project_id": TENANT},
        named=False,
    ),
}


class Planes(pulumi.ComponentResource):
    """What the estate's tenants share: its Keystone domain, plane networks and subnet pools."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egovops:cloud:Planes", name, None, opts)


class Tenant(pulumi.ComponentResource):
    """One department's project, people, quotas, networks, router and security baseline."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egovops:cloud:Tenant", name, None, opts)


def system_tags(estate: Estate) -> dict[str, list[str]]:
    """Per tenant, one tag per system placed on the cloud, so the policy pack can see what runs there."""
    placed = (CloudStatus.ON_CLOUD, CloudStatus.PLANNED)
    return {
        t.name: [
            f"system:{s.name}:level={s.level}:classified={str(s.classified).lower()}"
            for s in t.systems
            if s.status in placed
        ]
        for t in estate.tenants
    }


def _args(resource: Resource, built: dict[str, pulumi.CustomResource], tags: list[str]) -> Args:
    mapping = MAPPINGS[resource.kind]
    args: Args = {
        mapping.props[k]: v
        for k, v in {**resource.props, **resource.hints}.items()
        if k in mapping.props and v is not None
    }
    for ref_field, ref in resource.refs.items():
        arg = mapping.refs[ref_field]
        if arg is not None:
            args[arg] = built[ref].id
    if mapping.named:
        args["name"] = resource.name
    if resource.kind is Kind.PROJECT:
        args["tags"] = ["egovops", *tags]
    return args | mapping.extra(resource)


def build(estate: Estate, plan: Plan) -> dict[str, dict[str, Any]]:
    """Declare every resource of the plan under its component; export (and return) per tenant what a
    cloud admin needs."""
    components: dict[str, pulumi.ComponentResource] = {CLOUD: Planes(plan.estate)}
    for tenant in plan.tenants():
        components[tenant] = Tenant(tenant)
    tags = system_tags(estate)
    built: dict[str, pulumi.CustomResource] = {}
    for layer in plan.layers():
        for resource in layer:
            parent = components[resource.tenant]
            depends = [built[ref] for ref in resource.refs.values()]
            built[resource.key] = MAPPINGS[resource.kind].build(
                resource.key.replace(":", "-").replace("/", "-"),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=depends),
                **_args(resource, built, tags.get(resource.tenant, [])),
            )
    exported: dict[str, dict[str, Any]] = {}
    for name, component in components.items():
        outputs = _outputs(plan, name, built)
        component.register_outputs(outputs)
        if name != CLOUD:
            pulumi.export(name, outputs)
            exported[name] = outputs
    return exported


def _outputs(plan: Plan, tenant: str, built: dict[str, pulumi.CustomResource]) -> dict[str, Any]:
    mine = [r for r in plan.resources if r.tenant == tenant]
    return {
        "networks": {r.name: built[r.key].id for r in mine if r.kind is Kind.NETWORK},
        "subnets": {r.name: built[r.key].cidr for r in mine if r.kind is Kind.SUBNET},  # type: ignore[attr-defined]
        "router_gateways": {
            r.name: built[r.key].external_fixed_ips  # type: ignore[attr-defined]
            for r in mine
            if r.kind is Kind.ROUTER
        },
    }
