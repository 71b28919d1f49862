"""Cloud evidence from the estate's desired OpenStack state (cloud.planner), and the judging it shares with
the live cloud (`cloud_live`): security groups that open a management port to the world or admit
everything from it, tenant networks shared beyond their RBAC grants, tenant quotas against the pool
capacity. Without a live cloud the desired state is what is assessed: the reconciler keeps Neutron at it
(live drift is `egovops tenant drift`'s business); with one (`--os-cloud`), what Neutron holds decides and
the evidence says which of the two was read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cloud import policy
from cloud.plan import CLOUD, Kind, Plan, Resource
from cloud.planner import plan_estate
from egovops.estate import Estate, load_estate
from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind

MANAGEMENT_PORTS = tuple(sorted(policy.MANAGEMENT_PORTS))
"""Ports of remote management and databases that must not face 0.0.0.0/0 or ::/0 (the tenant policy's)."""
WORLD = ("0.0.0.0/0", "::/0")
PLAN_SOURCE = "estate: desired OpenStack state"
LIVE_ONLY = ("cloud.mgmt.separated", "cloud.image.protected", "cloud.snapshot.private")
"""Checks about what only a running cloud has (platform networks, images): not judged on the plan."""


class CloudReadError(RuntimeError):
    """The live cloud could not be read; the message names it and what to do."""


@dataclass(frozen=True)
class Rule:
    """A security group rule as both the plan and Neutron describe it; `where` names it for evidence."""

    where: str
    direction: str | None
    protocol: str | None
    port_min: int | None
    port_max: int | None
    remote_prefix: str | None
    remote_group: str | None = None

    @property
    def from_world(self) -> bool:
        """Ingress from anywhere: a world prefix, or (in Neutron) neither a prefix nor a remote group."""
        return (
            self.direction == "ingress" and self.remote_group is None and self.remote_prefix in (None, *WORLD)
        )

    def management_ports(self) -> list[int]:
        if not self.from_world or self.protocol not in ("tcp", "udp", None, "any"):
            return []
        if self.port_min is None:
            return list(MANAGEMENT_PORTS)
        high = self.port_max if self.port_max is not None else self.port_min
        return [port for port in MANAGEMENT_PORTS if self.port_min <= port <= high]

    @property
    def allows_all(self) -> bool:
        """Every port of a protocol (or every protocol) from the world: the opposite of default deny."""
        if not self.from_world:
            return False
        if self.protocol in (None, "any"):
            return True
        return self.protocol in ("tcp", "udp") and (
            self.port_min is None or (self.port_min <= 1 and (self.port_max or 0) >= 65535)
        )


def outcome(check: str, problems: list[str], content: str, source: str, at: datetime) -> CheckOutcome:
    text = content + ("\n-- not met:\n" + "\n".join(problems) if problems else "")
    evidence = Evidence(kind=EvidenceKind.API, source=source, content=text, collected_at=at)
    return CheckOutcome(check=check, passed=not problems, evidence=(evidence,))


def undecided(check: str, why: str, source: str, at: datetime) -> CheckOutcome:
    evidence = Evidence(kind=EvidenceKind.API, source=source, content=why, collected_at=at)
    return CheckOutcome(check=check, passed=False, evidence=(evidence,), judged=False)


def judge_rules(rules: list[Rule], scope: str, source: str, at: datetime) -> list[CheckOutcome]:
    """`cloud.sg.mgmt_open` and `cloud.sg.default_deny` over the rules of `scope`."""
    opened = [
        f"{r.where} opens {', '.join(f'{policy.MANAGEMENT_PORTS[p]} ({p})' for p in ports)} to the world"
        for r in rules
        if (ports := r.management_ports())
    ]
    allow_all = [
        f"{r.where} admits every {r.protocol or 'protocol'} port from the world"
        for r in rules
        if r.allows_all
    ]
    content = f"{len(rules)} security group rules ({scope})"
    return [
        outcome("cloud.sg.mgmt_open", opened, content, source, at),
        outcome("cloud.sg.default_deny", allow_all, content, source, at),
    ]


def pool_problems(estate: Estate, quotas: Iterable[tuple[str, int, int]]) -> list[str]:
    """Quota sums per pool against its capacity; `quotas`: (tenant, vCPU, RAM GB), -1 is unlimited."""
    pool_of = {t.name: t.pool for t in estate.tenants}
    used: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    problems = []
    for tenant, vcpu, ram in quotas:
        if vcpu < 0 or ram < 0:
            problems.append(f"{tenant}: unlimited compute quota (vCPU {vcpu}, RAM {ram} GB)")
        used[pool_of[tenant]][0] += max(vcpu, 0)
        used[pool_of[tenant]][1] += max(ram, 0)
    for name, (vcpu, ram) in used.items():
        pool = estate.pool(name)
        if vcpu > pool.vcpu or ram > pool.ram_gb:
            problems.append(
                f"pool {name}: quotas {vcpu} vCPU / {ram} GB over capacity "
                f"{pool.vcpu} vCPU / {pool.ram_gb} GB"
            )
    return problems


def judge_plan(estate: Estate, plan: Plan, at: datetime) -> list[CheckOutcome]:
    by_kind: defaultdict[Kind, list[Resource]] = defaultdict(list)
    for resource in plan.resources:
        by_kind[resource.kind].append(resource)
    rules = [_plan_rule(r) for r in by_kind[Kind.SECURITY_GROUP_RULE]]
    shared = [
        f"{r.tenant}: network {r.name} is_shared=True"
        for r in by_kind[Kind.NETWORK]
        if r.tenant != CLOUD and r.props.get("is_shared")
    ]
    wildcard = [
        f"{r.tenant}: {r.name} shares with every project"
        for r in by_kind[Kind.RBAC_POLICY]
        if r.props.get("target_tenant") == "*"
    ]
    grants = [f"{r.tenant}: {r.name} -> {r.refs.get('target_project_id')}" for r in by_kind[Kind.RBAC_POLICY]]
    quota_lines = [
        f"{t.name}: pool {t.pool} vcpu {t.quota.vcpu} ram_gb {t.quota.ram_gb}" for t in estate.tenants
    ]
    quotas = [(t.name, t.quota.vcpu, t.quota.ram_gb) for t in estate.tenants]
    why = "the desired state has no platform networks or images: give --os-cloud NAME to read the live cloud"
    return [
        *judge_rules(rules, "the desired state", PLAN_SOURCE, at),
        outcome(
            "cloud.tenant.isolation",
            shared + wildcard,
            f"{len(by_kind[Kind.NETWORK])} networks; RBAC shares:\n" + ("\n".join(grants) or "none"),
            PLAN_SOURCE,
            at,
        ),
        outcome(
            "cloud.quota.within_pool",
            pool_problems(estate, quotas),
            "\n".join(quota_lines) or "no tenants",
            PLAN_SOURCE,
            at,
        ),
        *(undecided(check, why, PLAN_SOURCE, at) for check in LIVE_ONLY),
    ]


def _plan_rule(r: Resource) -> Rule:
    props = r.props
    return Rule(
        where=f"{r.tenant}: {r.name}",
        direction=props.get("direction"),
        protocol=props.get("protocol"),
        port_min=props.get("port_range_min"),
        port_max=props.get("port_range_max"),
        remote_prefix=props.get("remote_ip_prefix"),
    )


def collect_cloud(estate_path: Path, at: datetime) -> list[CheckOutcome]:
    estate = load_estate(estate_path)
    return judge_plan(estate, plan_estate(estate), at)
