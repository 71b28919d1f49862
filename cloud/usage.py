"""Usage per tenant and per pool against the plans' targets: quotas granted, what is allocated, and what
is actually used where the cloud reports it (Neutron's quota details; Nova's when nova-api runs; the
estate's metering snapshot for city-wide vCPU, memory and storage actually in use).

The Shanwei targets are about *actual* use, not allocation, so an indicator without a measured figure
says so (`actual: None`) rather than reporting the quota as use. 上云率 counts systems on the cloud over
the systems that may go there (涉密 systems and exemptions are outside the denominator).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cloud.live import identity
from egovops.estate import CloudStatus, Estate

if TYPE_CHECKING:
    from openstack.connection import Connection

NETWORK_FIELDS = ("networks", "subnets", "ports", "routers", "floating_ips", "security_groups")
IDLE_BELOW = 0.10
"""A tenant using less than this share of its quota is reported idle (the provincial plan's low-load)."""


@dataclass
class TenantUsage:
    tenant: str
    pool: str
    quota: dict[str, float]
    used: dict[str, float | None] = field(default_factory=dict)

    @property
    def load(self) -> float | None:
        """Share of the quota in use: vCPU when Nova reports it, else ports (each VM has one)."""
        for resource, quota_key in (("cores", "vcpu"), ("ports", "ports")):
            used = self.used.get(resource)
            if used is not None and self.quota.get(quota_key):
                return used / self.quota[quota_key]
        return None


@dataclass(frozen=True)
class Indicator:
    """A target of the estate with its measured figure; `met` is None when it cannot be judged here."""

    indicator: str
    target: float
    due: str
    actual: float | None
    met: bool | None
    source: str


@dataclass
class UsageReport:
    estate: str
    pools: list[dict[str, Any]]
    tenants: list[TenantUsage]
    indicators: list[Indicator]
    idle: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "estate": self.estate,
            "pools": self.pools,
            "tenants": [asdict(t) | {"load": t.load} for t in self.tenants],
            "indicators": [asdict(i) for i in self.indicators],
            "idle": self.idle,
        }


def measure(estate: Estate, conn: Connection | None = None) -> UsageReport:
    """Usage of the estate's tenants; without a connection, quotas and the estate's own figures only."""
    tenants = [
        TenantUsage(
            t.name,
            t.pool,
            {
                "vcpu": t.quota.vcpu,
                "ram_gb": t.quota.ram_gb,
                "storage_gb": t.quota.storage_gb,
                "ports": t.quota.ports,
            },
        )
        for t in estate.tenants
    ]
    if conn is not None:
        _live_usage(estate, conn, tenants)
    pools = []
    for pool in estate.cloud.pools:
        mine = [t for t in tenants if t.pool == pool.name]
        granted = sum(t.quota["vcpu"] for t in mine)
        pools.append(
            {
                "pool": pool.name,
                "vcpu": pool.vcpu,
                "ram_gb": pool.ram_gb,
                "storage_tb": pool.storage_tb,
                "vcpu_allocated": granted,
                "ram_gb_allocated": sum(t.quota["ram_gb"] for t in mine),
                "storage_tb_allocated": sum(t.quota["storage_gb"] for t in mine) / 1000,
                "vcpu_allocation_ratio": round(granted / pool.vcpu, 4) if pool.vcpu else None,
            }
        )
    loads = [(t.tenant, t.load) for t in tenants]
    idle = sorted(name for name, load in loads if load is not None and load < IDLE_BELOW)
    return UsageReport(estate.name, pools, tenants, _indicators(estate), idle)


def _live_usage(estate: Estate, conn: Connection, tenants: list[TenantUsage]) -> None:
    domain = identity(conn).find_domain(estate.name)
    if domain is None:
        return
    projects = {p.name: p.id for p in identity(conn).projects(domain_id=domain.id)}
    has_compute = any(s.type == "compute" for s in identity(conn).services())
    for usage in tenants:
        project = projects.get(usage.tenant)
        if project is None:
            continue
        details = conn.network.get_quota(project, details=True)
        for name in NETWORK_FIELDS:
            usage.used[name] = float(getattr(details, name)["used"])
        # router interfaces are ports too: count only what could be a VM's
        interfaces = sum(
            1 for _ in conn.network.ports(project_id=project, device_owner="network:router_interface")
        )
        usage.used["ports"] = (usage.used["ports"] or 0) - interfaces
        if has_compute:
            limits = conn.compute.get_quota_set(project, usage=True)
            usage.used["cores"] = float(limits.usage["cores"])
            usage.used["ram_gb"] = float(limits.usage["ram"]) / 1024
            usage.used["instances"] = float(limits.usage["instances"])
        else:
            usage.used.update(cores=None, ram_gb=None, instances=None)


def _indicators(estate: Estate) -> list[Indicator]:
    systems = [s for t in estate.tenants for s in t.systems]
    eligible = [s for s in systems if not s.classified and s.status is not CloudStatus.EXEMPT]
    on_cloud = sum(1 for s in eligible if s.status is CloudStatus.ON_CLOUD)
    capacity = {
        "vcpu": sum(p.vcpu for p in estate.cloud.pools),
        "ram_gb": sum(p.ram_gb for p in estate.cloud.pools),
        "storage_tb": sum(p.storage_tb for p in estate.cloud.pools),
    }
    metered = estate.cloud.usage
    actual: dict[str, float | None] = {
        "compute_scale_vcpu": float(capacity["vcpu"]),
        "on_cloud_rate": round(on_cloud / len(eligible), 4) if eligible else None,
        "vcpu_used": metered.vcpu_used if metered else None,
        "ram_used_gb": metered.ram_used_gb if metered else None,
        "storage_used_tb": metered.storage_used_tb if metered else None,
        "vcpu_utilisation": round(metered.vcpu_used / capacity["vcpu"], 4)
        if metered and capacity["vcpu"]
        else None,
        "ram_utilisation": round(metered.ram_used_gb / capacity["ram_gb"], 4)
        if metered and capacity["ram_gb"]
        else None,
        # 云资源整体利用率 has no formula in the plan: the mean of the three utilisation ratios
        "overall_utilisation": round(
            (
                metered.vcpu_used / capacity["vcpu"]
                + metered.ram_used_gb / capacity["ram_gb"]
                + metered.storage_used_tb / capacity["storage_tb"]
            )
            / 3,
            4,
        )
        if metered and all(capacity.values())
        else None,
    }
    return [
        Indicator(
            t.indicator,
            t.value,
            t.due,
            actual[t.indicator],
            _met(actual[t.indicator], t.value, t.scope),
            t.source,
        )
        for t in estate.cloud.targets
    ]


def _met(actual: float | None, target: float, scope: str) -> bool | None:
    """None when unmeasured, or when a province-wide target is only contributed to by this city."""
    return None if actual is None or scope == "province" else actual >= target
