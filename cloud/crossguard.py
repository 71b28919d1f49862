"""The policy checks of `cloud.policy` as a Pulumi CrossGuard pack, for `pulumi preview/up --policy-pack`.

The policies live here, apart from the pack's entry (`stacks/policy/__main__.py`): constructing a
`PolicyPack` starts a gRPC server and blocks, so tests call these validate functions directly. Props
arrive in the engine's camelCase (`remoteIpPrefix`). Each policy names the 等保 item it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from cloud.policy import (
    CLASSIFIED_ON_CLOUD,
    IPV6_MISSING,
    MANAGEMENT_EXPOSED,
    NOT_ISOLATED,
    QUOTA_OVER_POOL,
    Rule,
    exposed_management_port,
    quota_excess,
)

RULE = "openstack:networking/secGroupRule:SecGroupRule"
NETWORK = "openstack:networking/network:Network"
SUBNET = "openstack:networking/subnet:Subnet"
PROJECT = "openstack:identity/project:Project"
QUOTA = "openstack:compute/quotaSetV2:QuotaSetV2"


def _described(rule: Rule) -> str:
    return f"{rule.title} (等保 {rule.item})"


def management_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RULE:
        return
    p = args.props
    service = exposed_management_port(
        p.get("direction", ""),
        p.get("protocol"),
        p.get("portRangeMin"),
        p.get("portRangeMax"),
        p.get("remoteIpPrefix"),
    )
    if service:
        report(
            f"{service} is open to {p.get('remoteIpPrefix') or 'anywhere'}: narrow the remote prefix "
            f"({MANAGEMENT_EXPOSED.item})",
            None,
        )


def no_shared_networks(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == NETWORK and args.props.get("shared"):
        report(
            f"network shared with every project: share it per tenant with an RBAC policy "
            f"({NOT_ISOLATED.item})",
            None,
        )


def no_classified_systems(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Projects carry one tag per system they host (cloud.pulumi_program.system_tags)."""
    if args.resource_type != PROJECT:
        return
    highest = int((args.get_config() or {}).get("platformLevel", 3))
    for tag in args.props.get("tags") or []:
        if not tag.startswith("system:"):
            continue
        fields = dict(part.split("=", 1) for part in tag.split(":")[2:])
        name = tag.split(":")[1]
        if fields.get("classified") == "true":
            report(
                f"涉密 system {name} can never be placed on the gov cloud ({CLASSIFIED_ON_CLOUD.item})", None
            )
        elif int(fields.get("level", 0)) > highest:
            report(
                f"system {name} is graded above the platform's level {highest} ({CLASSIFIED_ON_CLOUD.item})",
                None,
            )


def ipv6_everywhere(args: StackValidationArgs, report: ReportViolation) -> None:
    """A network passes when an IPv6 subnet's networkId depends on it."""
    with_v6 = {
        dep.urn
        for r in args.resources
        if r.resource_type == SUBNET and r.props.get("ipVersion") == 6
        for dep in r.property_dependencies.get("networkId", [])
    }
    for r in args.resources:
        if r.resource_type == NETWORK and r.urn not in with_v6:
            report(f"network {r.name} has no IPv6 subnet ({IPV6_MISSING.item})", r.urn)


def quotas_fit_the_pool(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config() or {}
    granted = {
        "vcpu": float(sum(r.props.get("cores", 0) for r in args.resources if r.resource_type == QUOTA)),
        "ram_gb": sum(r.props.get("ram", 0) for r in args.resources if r.resource_type == QUOTA) / 1024,
    }
    capacity = {
        "vcpu": float(config.get("poolVcpu", float("inf"))),
        "ram_gb": float(config.get("poolRamGb", float("inf"))),
    }
    excess = quota_excess(granted, capacity)
    if excess:
        report(f"compute quotas exceed the pool ({', '.join(excess)}) ({QUOTA_OVER_POOL.item})", None)


def _resource(
    rule: Rule,
    validate: Callable[[ResourceValidationArgs, ReportViolation], None],
    config: dict[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        rule.id,
        _described(rule),
        validate,
        EnforcementLevel.MANDATORY,
        PolicyConfigSchema(config) if config else None,
    )


def _stack(
    rule: Rule,
    validate: Callable[[StackValidationArgs, ReportViolation], None],
    config: dict[str, dict[str, Any]] | None = None,
) -> StackValidationPolicy:
    return StackValidationPolicy(
        rule.id,
        _described(rule),
        validate,
        EnforcementLevel.MANDATORY,
        PolicyConfigSchema(config) if config else None,
    )


POLICIES = [
    _resource(MANAGEMENT_EXPOSED, management_ports),
    _resource(NOT_ISOLATED, no_shared_networks),
    _resource(CLASSIFIED_ON_CLOUD, no_classified_systems, {"platformLevel": {"type": "integer"}}),
    _stack(IPV6_MISSING, ipv6_everywhere),
    _stack(
        QUOTA_OVER_POOL,
        quotas_fit_the_pool,
        {"poolVcpu": {"type": "number"}, "poolRamGb": {"type": "number"}},
    ),
]
