"""Policy checks on a plan before anything is applied; each rule names the 等保 2.0 item it serves.

Items are GB/T 22239-2019 level-3 clauses (8.1 general, 8.2 cloud extension). The predicates at the top
(`exposed_management_port`, `quota_excess`) are shared with the CrossGuard pack (`cloud.crossguard`), so
the reconciler and the Pulumi program refuse the same things.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from cloud.plan import Kind, Plan
from cloud.planner import key, network_name, plane_network_name
from egovops.estate import CloudStatus, Estate

MANAGEMENT_PORTS = {
    22: "SSH",
    23: "Telnet",
    3389: "RDP",
    1433: "SQL Server",
    1521: "Oracle",
    3306: "MySQL",
    5432: "PostgreSQL",
    5236: "DM (达梦)",
    54321: "KingbaseES",
    6379: "Redis",
    27017: "MongoDB",
}
ANYWHERE = {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}


@dataclass(frozen=True)
class Rule:
    id: str
    item: str
    title: str


MANAGEMENT_EXPOSED = Rule(
    "management-port-open", "8.1.3.2 c)", "no 0.0.0.0/0 or ::/0 on management and database ports"
)
IPV6_MISSING = Rule("ipv6-missing", "8.1.2.1 c)", "every tenant network has an IPv6 subnet")
NOT_ISOLATED = Rule("tenant-isolation", "8.2.2.1 b)", "tenants share a network only where the estate says so")
QUOTA_OVER_POOL = Rule("quota-over-pool", "8.1.2.1 a)", "tenant quotas fit the pool they draw from")
CLASSIFIED_ON_CLOUD = Rule(
    "classified-on-cloud", "8.2.2.1 a)", "no 涉密 system and no system graded above the platform on the cloud"
)
RULES = (MANAGEMENT_EXPOSED, IPV6_MISSING, NOT_ISOLATED, QUOTA_OVER_POOL, CLASSIFIED_ON_CLOUD)


@dataclass(frozen=True)
class Violation:
    rule: str
    item: str
    resource: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def exposed_management_port(
    direction: str, protocol: str | None, port_min: int | None, port_max: int | None, remote: str | None
) -> str | None:
    """The management service an ingress rule opens to the whole internet, if any."""
    if direction != "ingress" or protocol not in (None, "tcp", "udp", "6", "17"):
        return None
    if remote is not None and ipaddress.ip_network(remote, strict=False) not in ANYWHERE:
        return None
    low, high = port_min or 1, port_max or port_min or 65535
    for port, service in sorted(MANAGEMENT_PORTS.items()):
        if low <= port <= high:
            return f"{service} ({port})"
    return None


def quota_excess(granted: dict[str, float], capacity: dict[str, float]) -> list[str]:
    """Which resources (`vcpu`, `ram_gb`, `storage_gb`) are granted beyond the pool's capacity."""
    return [
        f"{what} {granted[what]:g} > {capacity[what]:g}"
        for what in sorted(granted)
        if granted[what] > capacity[what]
    ]


def check_plan(estate: Estate, plan: Plan) -> list[Violation]:
    """Every violation of the rules in the plan and the estate it comes from (empty: safe to apply)."""
    return [
        *_management(plan),
        *_ipv6(plan),
        *_isolation(estate, plan),
        *_quotas(estate, plan),
        *_classified(estate, plan),
    ]


def _management(plan: Plan) -> Iterator[Violation]:
    for r in plan.resources:
        if r.kind is not Kind.SECURITY_GROUP_RULE:
            continue
        service = exposed_management_port(
            r.props["direction"],
            r.props["protocol"],
            r.props["port_range_min"],
            r.props["port_range_max"],
            r.props["remote_ip_prefix"],
        )
        if service:
            yield Violation(
                MANAGEMENT_EXPOSED.id,
                MANAGEMENT_EXPOSED.item,
                r.key,
                f"{service} is open to {r.props['remote_ip_prefix']}: narrow the opening's remote "
                "to the ops bastion's prefix",
            )


def _ipv6(plan: Plan) -> Iterator[Violation]:
    with_v6 = {
        r.refs["network_id"] for r in plan.resources if r.kind is Kind.SUBNET and r.props["ip_version"] == 6
    }
    for r in plan.resources:
        if r.kind is Kind.NETWORK and r.key not in with_v6:
            yield Violation(
                IPV6_MISSING.id,
                IPV6_MISSING.item,
                r.key,
                "network has no IPv6 subnet: give it an ipv6 prefix or let the plane's pool delegate one",
            )


def _allowed_sharing(estate: Estate) -> set[tuple[str, str]]:
    allowed = set()
    for tenant in estate.tenants:
        for net in tenant.networks:
            for other in net.shared_with:
                allowed.add((key(Kind.NETWORK, tenant.name, network_name(tenant, net)), other))
        for plane_name in tenant.attach:
            plane_net = key(Kind.NETWORK, "_cloud", plane_network_name(estate, estate.plane(plane_name)))
            allowed.add((plane_net, tenant.name))
    return allowed


def _isolation(estate: Estate, plan: Plan) -> Iterator[Violation]:
    allowed = _allowed_sharing(estate)
    for r in plan.resources:
        if r.kind is Kind.NETWORK and r.props.get("is_shared"):
            yield Violation(
                NOT_ISOLATED.id,
                NOT_ISOLATED.item,
                r.key,
                "network is shared with every project: share it per tenant (shared_with / attach)",
            )
        if r.kind is Kind.RBAC_POLICY:
            target = plan.get(r.refs["target_project_id"]).tenant
            if (r.refs["object_id"], target) not in allowed:
                yield Violation(
                    NOT_ISOLATED.id,
                    NOT_ISOLATED.item,
                    r.key,
                    f"network shared with {target}, which the estate does not list",
                )


def _quotas(estate: Estate, plan: Plan) -> Iterator[Violation]:
    in_plan = set(plan.tenants())
    for pool in estate.cloud.pools:
        tenants = [t for t in estate.tenants if t.pool == pool.name and t.name in in_plan]
        granted = {
            "vcpu": float(sum(t.quota.vcpu for t in tenants)),
            "ram_gb": float(sum(t.quota.ram_gb for t in tenants)),
            "storage_gb": float(sum(t.quota.storage_gb for t in tenants)),
        }
        capacity = {
            "vcpu": pool.vcpu * pool.overcommit_vcpu,
            "ram_gb": float(pool.ram_gb),
            "storage_gb": pool.storage_tb * 1000,
        }
        excess = quota_excess(granted, capacity)
        if excess:
            yield Violation(
                QUOTA_OVER_POOL.id,
                QUOTA_OVER_POOL.item,
                f"pool:{pool.name}",
                f"quotas exceed the pool ({', '.join(excess)}): lower tenant quotas or grow the pool",
            )


def _classified(estate: Estate, plan: Plan) -> Iterator[Violation]:
    in_plan = set(plan.tenants())
    placed = (CloudStatus.ON_CLOUD, CloudStatus.PLANNED)
    for tenant in estate.tenants:
        if tenant.name not in in_plan:
            continue
        for system in tenant.systems:
            where = f"system:{tenant.name}/{system.name}"
            if system.classified and system.status in placed:
                yield Violation(
                    CLASSIFIED_ON_CLOUD.id,
                    CLASSIFIED_ON_CLOUD.item,
                    where,
                    "a 涉密 system can never be placed on the gov cloud: set status: exempt",
                )
            elif system.level > estate.cloud.platform_level and system.status in placed:
                yield Violation(
                    CLASSIFIED_ON_CLOUD.id,
                    CLASSIFIED_ON_CLOUD.item,
                    where,
                    f"等保 level {system.level} is above the platform's level "
                    f"{estate.cloud.platform_level}: host it elsewhere",
                )
