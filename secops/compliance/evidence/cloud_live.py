"""Cloud evidence from the live OpenStack (`assess --os-cloud NAME`): what Keystone, Neutron, and Nova and
Glance when the catalog has them, hold now for the estate's domain, judged as the plan is (`cloud`).

The estate's part is read in one snapshot (`cloud.live.Live`: its projects and the admin project's
networks, RBAC policies, routers, ports, security groups with their rules, Neutron quotas). Two reads
look wider because what they find reaches the estate's tenants from anywhere: networks shared with every
project (`shared=True`) and network RBAC policies of any owner. Images are listed as the admin sees them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openstack.connection import Connection
from openstack.network.v2.network import Network
from openstack.network.v2.rbac_policy import RBACPolicy

from cloud.live import Live, Record, identity, list_records
from cloud.plan import Kind
from cloud.planner import plan_estate, plane_network_name
from cloud.sdk import Reader
from egovops.estate import Estate
from secops.compliance.assessment import CheckOutcome
from secops.compliance.evidence.cloud import (
    CloudReadError,
    Rule,
    judge_rules,
    outcome,
    pool_problems,
    undecided,
)

NEUTRON_QUOTAS = (
    "networks",
    "subnets",
    "ports",
    "routers",
    "floating_ips",
    "security_groups",
    "security_group_rules",
)
"""Neutron quotas the estate declares per tenant (egovops.estate.Quota): live values must not exceed them."""
EXPOSED = ("public", "community")


def collect_live_cloud(estate: Estate, name: str, conn: Connection, at: datetime) -> list[CheckOutcome]:
    """Every cloud check on what the cloud `name` holds now for `estate`."""
    reader = Reader.of_connection(conn)
    live = Live(reader, estate.name)
    source = f"cloud {name}: live OpenStack (domain {estate.name})"
    projects = {p.id: p.name for p in live.projects}
    tenants = {projects[pid]: pid for pid in projects if projects[pid] in {t.name for t in estate.tenants}}
    groups = {g.id: g for g in live.security_groups if g.project_id in projects}
    rules = [
        _rule(r, groups[r.security_group_id], projects) for r in live.rules if r.security_group_id in groups
    ]
    shared = list_records(reader, Network, shared=True)
    policies = [
        p
        for p in list_records(reader, RBACPolicy, object_type="network")
        if p.target_project_id == "*" or p.target_project_id in projects
    ]
    services = {s.type for s in identity(conn).services()}
    scope = f"{len(groups)} groups of {len(projects)} projects"
    return [
        *judge_rules(rules, scope, f"{source}: Neutron security groups", at),
        _isolation(estate, live, projects, shared, policies, f"{source}: Neutron networks, RBAC", at),
        _separation(estate, live, projects, shared, policies, f"{source}: Neutron", at),
        _quotas(estate, live, conn, tenants, services, source, at),
        *_images(conn, name, {**projects, live.admin_project: "the platform"}, services, source, at),
    ]


def _rule(r: Record, group: Record, projects: dict[str, str]) -> Rule:
    where = f"{projects[group.project_id]}: group {group.name} rule {r.id}"
    return Rule(
        where=where,
        direction=r.direction,
        protocol=r.protocol,
        port_min=r.port_range_min,
        port_max=r.port_range_max,
        remote_prefix=r.remote_ip_prefix,
        remote_group=getattr(r, "remote_group_id", None) or getattr(r, "remote_address_group_id", None),
    )


def _label(network_id: str, networks: dict[str, Record]) -> str:
    found = networks.get(network_id)
    return f"network {found.name} ({network_id})" if found else f"network {network_id}"


def _isolation(
    estate: Estate,
    live: Live,
    projects: dict[str, str],
    shared: list[Record],
    policies: list[Record],
    source: str,
    at: datetime,
) -> CheckOutcome:
    """No network shared with every project, no RBAC share the estate does not grant. Neutron itself gives
    every project an external network's gateway (`access_as_external` to `*`): the admin's are allowed."""
    plan = plan_estate(estate)
    granted = {
        (plan.get(r.refs["object_id"]).name, r.refs["target_project_id"].rsplit("/", 1)[1])
        for r in plan.resources
        if r.kind is Kind.RBAC_POLICY
    }
    networks = {n.id: n for n in [*live.networks, *shared]}
    problems = [
        f"{_label(n.id, networks)} of project {n.project_id} is shared with every project" for n in shared
    ]
    for p in policies:
        target = "every project" if p.target_project_id == "*" else projects[p.target_project_id]
        net = networks.get(p.object_id)
        if net is not None and (
            (p.action == "access_as_shared" and (net.name, target) in granted)
            or (p.action == "access_as_external" and _external(net, live))
        ):
            continue
        problems.append(
            f"RBAC {p.id}: {p.action} of {_label(p.object_id, networks)} to {target}, "
            "not granted by the estate"
        )
    content = (
        f"{len(live.networks)} networks of the estate and admin projects; {len(shared)} shared with "
        f"every project; {len(policies)} network RBAC policies reaching the estate's projects"
    )
    return outcome("cloud.tenant.isolation", problems, content, source, at)


def _external(network: Record, live: Live) -> bool:
    return bool(network.is_router_external) and network.project_id == live.admin_project


def _separation(
    estate: Estate,
    live: Live,
    projects: dict[str, str],
    shared: list[Record],
    policies: list[Record],
    source: str,
    at: datetime,
) -> CheckOutcome:
    """The platform's own networks (the admin project's, other than the estate's planes and the external
    networks routers take their gateway on) reach no tenant:
    not shared, no RBAC to a tenant, no tenant router with an interface or gateway on them."""
    planes = {plane_network_name(estate, p) for p in estate.planes if p.shared or p.external}
    platform = {
        n.id: n
        for n in live.networks
        if n.project_id == live.admin_project and n.name not in planes and not n.is_router_external
    }
    tenant_ids = set(projects) - {live.admin_project}
    problems = [f"{_label(n.id, platform)} is shared with every project" for n in shared if n.id in platform]
    problems += [
        f"RBAC {p.id}: {_label(p.object_id, platform)} to "
        f"{projects.get(p.target_project_id, 'every project')}"
        for p in policies
        if p.object_id in platform
    ]
    routers = {r.id: r for r in live.routers if r.project_id in tenant_ids}
    problems += [
        f"router {routers[p.device_id].name} of {projects[routers[p.device_id].project_id]} has an "
        f"interface on {_label(p.network_id, platform)}"
        for p in live.router_ports
        if p.device_id in routers and p.network_id in platform
    ]
    for router in routers.values():
        gateway = (router.external_gateway_info or {}).get("network_id")
        if gateway in platform:
            problems.append(
                f"router {router.name} of {projects[router.project_id]} has its gateway on "
                f"{_label(gateway, platform)}"
            )
    names = ", ".join(sorted(n.name for n in platform.values())) or "none"
    content = f"platform networks (admin project, not the estate's planes): {names}"
    content += f"; {len(routers)} tenant routers"
    return outcome("cloud.mgmt.separated", problems, content, source, at)


def _quotas(
    estate: Estate,
    live: Live,
    conn: Connection,
    tenants: dict[str, str],
    services: set[str],
    source: str,
    at: datetime,
) -> CheckOutcome:
    """Neutron quotas within what the estate declares; Nova quotas within the pools when Nova exists."""
    problems, lines = [], []
    for tenant in estate.tenants:
        pid = tenants.get(tenant.name)
        if pid is None:
            lines.append(f"{tenant.name}: no project in the cloud")
            continue
        quota = live.quotas.get(pid, live.quota_default)
        values = {name: getattr(quota, name) for name in NEUTRON_QUOTAS}
        lines.append(f"{tenant.name}: Neutron " + " ".join(f"{k} {v}" for k, v in values.items()))
        for name, value in values.items():
            declared = getattr(tenant.quota, name)
            if value is None or value < 0 or value > declared:
                shown = "unlimited" if value is None or value < 0 else value
                problems.append(f"{tenant.name}: Neutron {name} {shown} above the estate's {declared}")
    if "compute" in services:
        compute = [(t, conn.compute.get_quota_set(pid)) for t, pid in tenants.items()]
        nova = [(t, int(q.cores), int(q.ram) // 1024 if int(q.ram) >= 0 else -1) for t, q in compute]
        lines += [f"{t}: Nova cores {c} ram_gb {r}" for t, c, r in nova]
        problems += pool_problems(estate, nova)
    else:
        lines.append("no compute service in the catalog: Nova quotas not read")
    return outcome("cloud.quota.within_pool", problems, "\n".join(lines), f"{source}: quotas", at)


def _images(
    conn: Connection, name: str, owners: dict[str, str], services: set[str], source: str, at: datetime
) -> list[CheckOutcome]:
    """Public images of the platform and the tenants protected and with a checksum; the tenants'
    snapshots kept to their project. `owners`: the admin and the estate's projects, by id."""
    checks = ("cloud.image.protected", "cloud.snapshot.private")
    if "image" not in services:
        return [undecided(check, f"no image service in cloud {name}", source, at) for check in checks]
    # Glance leaves community images out of a list unless asked for every visibility
    images = [i for i in conn.image.images(visibility="all") if i.owner in owners]
    public = [i for i in images if i.visibility in EXPOSED and not _snapshot(i)]
    bare = [
        f"image {i.name} ({i.id}) of {owners[i.owner]} is {i.visibility}: {', '.join(_weak(i))}"
        for i in public
        if _weak(i)
    ]
    snapshots = [i for i in images if _snapshot(i)]
    leaked = [
        f"snapshot {i.name} ({i.id}) of {owners[i.owner]} is {i.visibility}"
        for i in snapshots
        if i.visibility != "private"
    ]
    glance = f"{source}: Glance"
    return [
        outcome(
            checks[0],
            bare,
            f"{len(images)} images of the platform and tenants, {len(public)} public or community",
            glance,
            at,
        ),
        outcome(checks[1], leaked, f"{len(snapshots)} snapshots (image_type=snapshot)", glance, at),
    ]


def _snapshot(image: Any) -> bool:
    return bool((image.properties or {}).get("image_type") == "snapshot")


def _weak(image: Any) -> list[str]:
    return [
        why
        for why, bad in (
            ("not protected", not image.is_protected),
            ("no checksum", not (image.checksum or image.hash_value)),
        )
        if bad
    ]


def read_live_cloud(estate: Estate, name: str, at: datetime) -> list[CheckOutcome]:
    """Connect to the clouds.yaml entry `name`, collect, close; CloudReadError says what went wrong."""
    import openstack
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as os_exc

    try:
        conn = openstack.connect(cloud=name)
        try:
            return collect_live_cloud(estate, name, conn, at)
        finally:
            conn.close()
    except os_exc.ConfigException as exc:
        raise CloudReadError(
            f"cloud {name}: {exc} (name a cloud of clouds.yaml with --os-cloud; "
            "OS_CLIENT_CONFIG_FILE locates the file)"
        ) from exc
    except (ks_exc.ClientException, os_exc.SDKException) as exc:
        raise CloudReadError(
            f"cloud {name} cannot be read: {exc} (check that it is up and the "
            "credentials in clouds.yaml are an admin's)"
        ) from exc
