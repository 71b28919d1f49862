"""The CrossGuard pack: the Pulumi program's resources for the test city pass it, and the same program
run over a bad estate is rejected by the policy that names the broken 等保 item."""

from __future__ import annotations

from typing import Any, cast

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from cloud.crossguard import POLICIES
from cloud.planner import plan_estate
from cloud.pulumi_program import build
from egovops.estate import parse_estate
from tests.cloud.helpers import small_text
from tests.cloud.pulumi_mocks import run_under_mocks

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def program_resources(text: str) -> list[PolicyResource]:
    """The estate's program run under the mocks, its resources as the policy engine would see them."""

    def program() -> None:
        estate = parse_estate(text)
        build(estate, plan_estate(estate))

    mocks = run_under_mocks(program)
    urns = {f"{a.name}-id": f"urn:{a.typ}::{a.name}" for a in mocks.created}
    by_urn: dict[str, PolicyResource] = {}
    for a in mocks.created:
        by_urn[urns[f"{a.name}-id"]] = PolicyResource(
            a.typ, a.inputs, urns[f"{a.name}-id"], a.name, OPTIONS, None, None, [], {}
        )
    for resource in by_urn.values():  # each input holding another resource's id depends on it
        for prop, value in resource.props.items():
            if isinstance(value, str) and value in urns:
                resource.property_dependencies[prop] = [by_urn[urns[value]]]
    return list(by_urn.values())


def violations(
    resources: list[PolicyResource], config: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for policy in POLICIES:

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            found.append((name, message))

        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(
                    r.resource_type, r.props, r.urn, r.name, OPTIONS, None, config or {}
                )
                policy.validate(args, report)
        elif isinstance(policy, StackValidationPolicy):
            policy.validate(StackValidationArgs(resources, config or {}), report)
    return found


def test_the_test_city_passes_the_pack() -> None:
    assert violations(program_resources(small_text("t")), {"poolVcpu": 100, "poolRamGb": 400}) == []


def test_a_bad_estate_is_rejected_with_its_items() -> None:
    text = (
        small_text("t")
        .replace("remote: 10.90.0.0/28", "remote: 0.0.0.0/0")
        .replace(
            "{name: 档案系统, level: 2, status: planned}",
            "{name: 档案系统, level: 2, classified: true, status: planned}",
        )
    )
    found = violations(program_resources(text), {"poolVcpu": 50, "poolRamGb": 400})
    assert found == [
        ("management-port-open", "SSH (22) is open to 0.0.0.0/0: narrow the remote prefix (8.1.3.2 c))"),
        ("classified-on-cloud", "涉密 system 档案系统 can never be placed on the gov cloud (8.2.2.1 a))"),
        ("quota-over-pool", "compute quotas exceed the pool (vcpu 60 > 50) (8.1.2.1 a))"),
    ]


def test_shared_networks_and_missing_ipv6_are_rejected() -> None:
    resources = program_resources(small_text("t"))
    for r in resources:
        if r.name == "network-beta-beta-app":
            cast(dict[str, Any], r.props)["shared"] = True
    resources = [r for r in resources if r.name != "subnet-beta-beta-app-v6"]
    assert violations(resources) == [
        (
            "tenant-isolation",
            "network shared with every project: share it per tenant with an RBAC policy (8.2.2.1 b))",
        ),
        ("ipv6-missing", "network network-beta-beta-app has no IPv6 subnet (8.1.2.1 c))"),
    ]
