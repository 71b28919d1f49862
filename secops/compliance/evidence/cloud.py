"""Cloud evidence from the estate's desired OpenStack state (cloud.planner): security groups that open a
management port to the whole Internet, tenant networks shared beyond their RBAC grants, tenant quotas
against the pool capacity. What the planner would create is what the reconciler keeps in Neutron, so the
desired state is the assessed state; live drift is `egovops tenant drift`'s business."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from cloud.plan import CLOUD, Kind, Plan, Resource
from cloud.planner import plan_estate
from egovops.estate import Estate, load_estate
from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind

MANAGEMENT_PORTS = (22, 23, 3389, 5900, 1433, 1521, 3306, 5432, 6379, 9200, 27017)
"""Ports of remote management and databases that must not face 0.0.0.0/0 or ::/0."""
WORLD = ("0.0.0.0/0", "::/0")


def _opens_management(rule: Resource) -> list[int]:
    props = rule.props
    if props.get("direction") != "ingress" or props.get("remote_ip_prefix") not in WORLD:
        return []
    if props.get("protocol") not in ("tcp", "udp", None, "any"):
        return []
    low, high = props.get("port_range_min"), props.get("port_range_max")
    if low is None:
        return list(MANAGEMENT_PORTS)
    return [port for port in MANAGEMENT_PORTS if int(low) <= port <= int(high if high is not None else low)]


def _outcome(check: str, problems: list[str], content: str, at: datetime) -> CheckOutcome:
    text = content + ("\n-- not met:\n" + "\n".join(problems) if problems else "")
    evidence = Evidence(
        kind=EvidenceKind.API, source="estate: desired OpenStack state", content=text, collected_at=at
    )
    return CheckOutcome(check=check, passed=not problems, evidence=(evidence,))


def judge_plan(estate: Estate, plan: Plan, at: datetime) -> list[CheckOutcome]:
    by_kind: defaultdict[Kind, list[Resource]] = defaultdict(list)
    for resource in plan.resources:
        by_kind[resource.kind].append(resource)
    rules = by_kind[Kind.SECURITY_GROUP_RULE]
    open_rules = [f"{r.tenant}: {r.name} opens {ports}" for r in rules if (ports := _opens_management(r))]
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
    quotas = _quota_problems(estate)
    quota_lines = [
        f"{t.name}: pool {t.pool} vcpu {t.quota.vcpu} ram_gb {t.quota.ram_gb}" for t in estate.tenants
    ]
    return [
        _outcome(
            "cloud.sg.mgmt_open", open_rules, f"{len(rules)} security group rules in the desired state", at
        ),
        _outcome(
            "cloud.tenant.isolation",
            shared + wildcard,
            f"{len(by_kind[Kind.NETWORK])} networks; RBAC shares:\n" + ("\n".join(grants) or "none"),
            at,
        ),
        _outcome("cloud.quota.within_pool", quotas, "\n".join(quota_lines) or "no tenants", at),
    ]


def _quota_problems(estate: Estate) -> list[str]:
    used: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tenant in estate.tenants:
        used[tenant.pool][0] += tenant.quota.vcpu
        used[tenant.pool][1] += tenant.quota.ram_gb
    problems = []
    for name, (vcpu, ram) in used.items():
        pool = estate.pool(name)
        if vcpu > pool.vcpu or ram > pool.ram_gb:
            problems.append(
                f"pool {name}: quotas {vcpu} vCPU / {ram} GB over capacity "
                f"{pool.vcpu} vCPU / {pool.ram_gb} GB"
            )
    return problems


def collect_cloud(estate_path: Path, at: datetime) -> list[CheckOutcome]:
    estate = load_estate(estate_path)
    return judge_plan(estate, plan_estate(estate), at)
