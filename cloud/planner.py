"""Estate -> desired OpenStack state: the one planner both executors consume.

Per estate: a Keystone domain; per shared or external plane: a cloud-owned provider network with its
subnets, and per plane an IPv6 subnet pool for prefix delegation. Per tenant: a project, its people and
role assignments, Neutron and Nova quotas, its networks with an IPv4 and an IPv6 subnet, RBAC policies
for what the estate says is shared, a router with its interfaces and gateway, and a security group that
denies everything but the declared openings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from cloud.plan import CLOUD, Kind, Plan, Resource
from egovops.estate import Estate, Ipv6Mode, Opening, Plane, Tenant, TenantNetwork

MANAGED = "managed by egovops"
IPV6_PREFIXLEN = 64


def key(kind: Kind, tenant: str, name: str) -> str:
    return f"{kind}:{tenant}/{name}"


def plane_network_name(estate: Estate, plane: Plane) -> str:
    """Cloud-owned names carry the estate's, so two estates on one cloud never share a plane by accident."""
    return f"{estate.name}-plane-{plane.name}"


def pool_name(estate: Estate, plane: Plane) -> str:
    return f"{estate.name}-{plane.name}-v6"


def network_name(tenant: Tenant, net: TenantNetwork) -> str:
    return f"{tenant.name}-{net.name}"


def baseline_name(tenant: Tenant) -> str:
    return f"{tenant.name}-baseline"


def plan_estate(estate: Estate) -> Plan:
    resources = [Resource(Kind.DOMAIN, estate.name, CLOUD, {"description": f"{estate.city} ({MANAGED})"})]
    for plane in estate.planes:
        resources.extend(_plane(estate, plane))
    for tenant in estate.tenants:
        resources.extend(_tenant(estate, tenant))
    return Plan(estate.name, resources, estate.name)


def _plane(estate: Estate, plane: Plane) -> Iterator[Resource]:
    if not (plane.shared or plane.external):
        yield Resource(
            Kind.SUBNET_POOL,
            pool_name(estate, plane),
            CLOUD,
            {
                "prefixes": [str(plane.ipv6)],
                "default_prefix_length": IPV6_PREFIXLEN,
                "ip_version": 6,
                "is_shared": True,
                "description": f"IPv6 prefix delegation for plane {plane.name}",
            },
        )
        return
    name = plane_network_name(estate, plane)
    provider = {
        "provider_network_type": "vlan" if plane.segment else "flat",
        "provider_physical_network": plane.physical_network,
        "provider_segmentation_id": plane.segment,
    }
    yield Resource(
        Kind.NETWORK,
        name,
        CLOUD,
        {
            "description": plane.title or f"plane {plane.name}",
            "is_router_external": plane.external,
            "is_shared": False,
            **provider,
        },
    )
    net = key(Kind.NETWORK, CLOUD, name)
    yield Resource(Kind.SUBNET, f"{name}-v4", CLOUD, _v4(plane.ipv4), {"network_id": net})
    yield Resource(Kind.SUBNET, f"{name}-v6", CLOUD, _v6(plane.ipv6, plane.ipv6_mode), {"network_id": net})


def _v4(cidr: ipaddress.IPv4Network) -> dict[str, object]:
    return {
        "ip_version": 4,
        "cidr": str(cidr),
        "gateway_ip": str(next(cidr.hosts())),
        "is_dhcp_enabled": True,
    }


def _v6(cidr: ipaddress.IPv6Network | None, mode: Ipv6Mode) -> dict[str, object]:
    props: dict[str, object] = {
        "ip_version": 6,
        "ipv6_ra_mode": str(mode),
        "ipv6_address_mode": str(mode),
        "is_dhcp_enabled": True,
    }
    if cidr is not None:
        props["cidr"] = str(cidr)
    return props


def _tenant(estate: Estate, tenant: Tenant) -> Iterator[Resource]:
    t = tenant.name
    domain = key(Kind.DOMAIN, CLOUD, estate.name)
    project = key(Kind.PROJECT, t, t)
    yield Resource(
        Kind.PROJECT, t, t, {"description": tenant.title, "is_enabled": True}, {"domain_id": domain}
    )
    for person in tenant.people:
        user = f"{t}-{person.name}"
        yield Resource(
            Kind.USER,
            user,
            t,
            {"email": person.email, "is_enabled": True},
            {"domain_id": domain, "default_project_id": project},
        )
        for role in person.roles:
            yield Resource(
                Kind.ROLE_ASSIGNMENT,
                f"{user}:{role}",
                t,
                {"role": role},
                {"user_id": key(Kind.USER, t, user), "project_id": project},
            )
    q = tenant.quota
    yield Resource(
        Kind.NETWORK_QUOTA,
        t,
        t,
        {
            "networks": q.networks,
            "subnets": q.subnets,
            "ports": q.ports,
            "routers": q.routers,
            "floating_ips": q.floating_ips,
            "security_groups": q.security_groups,
            "security_group_rules": q.security_group_rules,
        },
        {"project_id": project},
    )
    yield Resource(
        Kind.COMPUTE_QUOTA,
        t,
        t,
        {"cores": q.vcpu, "ram": q.ram_gb * 1024, "instances": q.instances},
        {"project_id": project},
    )
    yield from _networks(estate, tenant, project)
    yield from _security(estate, tenant, project)


def _networks(estate: Estate, tenant: Tenant, project: str) -> Iterator[Resource]:
    t = tenant.name
    subnets: list[str] = []
    for net in tenant.networks:
        plane = estate.plane(net.plane)
        name = network_name(tenant, net)
        yield Resource(
            Kind.NETWORK,
            name,
            t,
            {"description": f"plane {plane.name}", "is_shared": False},
            {"project_id": project},
        )
        nkey = key(Kind.NETWORK, t, name)
        refs = {"network_id": nkey, "project_id": project}
        yield Resource(Kind.SUBNET, f"{name}-v4", t, _v4(net.ipv4), refs)
        pool = {"subnet_pool_id": key(Kind.SUBNET_POOL, CLOUD, pool_name(estate, plane))}
        hints = {} if net.ipv6 else {"prefix_length": IPV6_PREFIXLEN}
        yield Resource(
            Kind.SUBNET, f"{name}-v6", t, _v6(net.ipv6, net.ipv6_mode or plane.ipv6_mode), refs | pool, hints
        )
        subnets += [key(Kind.SUBNET, t, f"{name}-v4"), key(Kind.SUBNET, t, f"{name}-v6")]
        for other in net.shared_with:
            yield _rbac(f"{name}>{other}", t, nkey, other, owner=project)
    for plane_name in tenant.attach:
        plane = estate.plane(plane_name)
        plane_network = plane_network_name(estate, plane)
        yield _rbac(f"{plane_network}>{t}", t, key(Kind.NETWORK, CLOUD, plane_network), t)
    if not tenant.router:
        return
    router = f"{t}-router"
    refs = {"project_id": project}
    external = next((p for p in estate.planes if p.external), None)
    if external is not None:
        refs["external_network_id"] = key(Kind.NETWORK, CLOUD, plane_network_name(estate, external))
    yield Resource(Kind.ROUTER, router, t, {"description": MANAGED}, refs)
    for subnet in subnets:
        yield Resource(
            Kind.ROUTER_INTERFACE,
            f"{router}:{subnet.rsplit('/', 1)[1]}",
            t,
            {},
            {"router_id": key(Kind.ROUTER, t, router), "subnet_id": subnet},
        )


def _rbac(name: str, tenant: str, network: str, target: str, owner: str | None = None) -> Resource:
    """A share of `network` with `target`; owned by the network's project (its quota), else the admin's."""
    refs = {"object_id": network, "target_project_id": key(Kind.PROJECT, target, target)}
    return Resource(
        Kind.RBAC_POLICY,
        name,
        tenant,
        {"object_type": "network", "action": "access_as_shared"},
        refs | ({"project_id": owner} if owner else {}),
    )


def _security(estate: Estate, tenant: Tenant, project: str) -> Iterator[Resource]:
    t = tenant.name
    group = baseline_name(tenant)
    yield Resource(
        Kind.SECURITY_GROUP,
        group,
        t,
        {"description": f"default-deny baseline of {tenant.title} ({MANAGED})"},
        {"project_id": project},
    )
    refs = {"security_group_id": key(Kind.SECURITY_GROUP, t, group), "project_id": project}
    seen: set[str] = set()
    for opening in tenant.openings:
        for props in rule_props(estate, opening):
            name = f"{group}:{rule_name(props)}"
            if name not in seen:
                seen.add(name)
                yield Resource(
                    Kind.SECURITY_GROUP_RULE, name, t, props, refs, {"description": opening.purpose}
                )


def rule_props(estate: Estate, opening: Opening) -> Iterator[dict[str, object]]:
    """Neutron rule fields for an opening, one per address family of its remote prefixes."""
    if opening.remote.startswith("tenant:"):
        other = estate.tenant(opening.remote.removeprefix("tenant:"))
        remotes = [str(p) for n in other.networks for p in (n.ipv4, n.ipv6) if p is not None]
    else:
        remotes = [opening.remote]
    low, high = opening.port_range or (None, None)
    for remote in remotes:
        version = ipaddress.ip_network(remote).version
        protocol = "ipv6-icmp" if opening.protocol == "icmp" and version == 6 else str(opening.protocol)
        yield {
            "direction": opening.direction,
            "ether_type": f"IPv{version}",
            "protocol": protocol,
            "port_range_min": low,
            "port_range_max": high,
            "remote_ip_prefix": remote,
        }


def rule_name(props: dict[str, object]) -> str:
    """A rule's identity: its match fields, as Neutron rules cannot be renamed or edited."""
    ports = (
        "any" if props["port_range_min"] is None else f"{props['port_range_min']}-{props['port_range_max']}"
    )
    return f"{props['direction']}-{props['protocol']}-{ports}-{props['remote_ip_prefix']}"
