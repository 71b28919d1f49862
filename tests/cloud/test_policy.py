"""Policy on the plan: each rule fires on what it forbids, names its 等保 item, and passes the examples."""

from __future__ import annotations

import dataclasses

import pytest

from cloud.plan import Plan
from cloud.planner import plan_estate
from cloud.policy import check_plan, exposed_management_port
from egovops.estate import Estate, parse_estate
from tests.cloud.helpers import STACKS, small_estate, small_text


def violations(estate: Estate, plan: Plan | None = None) -> list[tuple[str, str, str]]:
    return [(v.rule, v.item, v.resource) for v in check_plan(estate, plan or plan_estate(estate))]


@pytest.mark.parametrize("city", ["shanwei", "shantou"])
def test_the_example_estates_pass(city: str) -> None:
    estate = parse_estate((STACKS / city / "estate.yaml").read_text(encoding="utf-8"))
    assert violations(estate) == []


def test_ssh_open_to_the_world_is_refused_on_both_families() -> None:
    text = (
        small_text("t")
        .replace("remote: 10.90.0.0/28", "remote: 0.0.0.0/0")
        .replace(
            '{protocol: icmp, remote: "2001:db8::/32"}', '{protocol: tcp, ports: "3000-3400", remote: "::/0"}'
        )
    )
    assert violations(parse_estate(text)) == [
        (
            "management-port-open",
            "8.1.3.2 c)",
            "security_group_rule:alpha/alpha-baseline:ingress-tcp-22-22-0.0.0.0/0",
        ),
        (
            "management-port-open",
            "8.1.3.2 c)",
            "security_group_rule:alpha/alpha-baseline:ingress-tcp-3000-3400-::/0",
        ),
    ]


@pytest.mark.parametrize(
    ("args", "service"),
    [
        (("ingress", "tcp", 22, 22, "0.0.0.0/0"), "SSH (22)"),
        (("ingress", None, None, None, None), "SSH (22)"),
        (("ingress", "tcp", 3306, 3306, "10.0.0.0/8"), None),
        (("egress", "tcp", 22, 22, "0.0.0.0/0"), None),
        (("ingress", "icmp", None, None, "0.0.0.0/0"), None),
        (("ingress", "tcp", 5236, 5236, "::/0"), "DM (达梦) (5236)"),
    ],
)
def test_management_port_predicate(
    args: tuple[str, str | None, int | None, int | None, str | None], service: str | None
) -> None:
    assert exposed_management_port(*args) == service


def test_a_network_without_ipv6_is_refused() -> None:
    estate = small_estate()
    plan = plan_estate(estate)
    without = Plan(plan.estate, [r for r in plan.resources if r.name != "beta-app-v6"], plan.domain)
    assert violations(estate, without) == [("ipv6-missing", "8.1.2.1 c)", "network:beta/beta-app")]


def test_sharing_the_estate_does_not_list_is_refused() -> None:
    estate = small_estate()
    plan = plan_estate(estate)
    leaked = [
        dataclasses.replace(r, refs={**r.refs, "target_project_id": "project:alpha/alpha"})
        if r.name == "alpha-app>beta"
        else r
        for r in plan.resources
    ]
    shared = [
        dataclasses.replace(r, props={**r.props, "is_shared": True})
        if r.key == "network:beta/beta-app"
        else r
        for r in leaked
    ]
    assert violations(estate, Plan(plan.estate, shared, plan.domain)) == [
        ("tenant-isolation", "8.2.2.1 b)", "rbac_policy:alpha/alpha-app>beta"),
        ("tenant-isolation", "8.2.2.1 b)", "network:beta/beta-app"),
    ]


def test_quotas_beyond_the_pool_are_refused() -> None:
    estate = parse_estate(
        small_text("t").replace("quota: {vcpu: 20, ram_gb: 80}", "quota: {vcpu: 90, ram_gb: 80}")
    )
    found = check_plan(estate, plan_estate(estate))
    assert [(v.rule, v.item, v.resource) for v in found] == [
        ("quota-over-pool", "8.1.2.1 a)", "pool:general")
    ]
    assert "vcpu 130 > 100" in found[0].message


def test_classified_systems_never_go_on_the_cloud() -> None:
    text = small_text("t").replace(
        "{name: 档案系统, level: 2, status: planned}",
        "{name: 档案系统, level: 2, classified: true, status: planned}",
    )
    text = text.replace(
        "{name: 社保系统, level: 2, status: on-cloud}", "{name: 社保系统, level: 4, status: on-cloud}"
    )
    assert violations(parse_estate(text)) == [
        ("classified-on-cloud", "8.2.2.1 a)", "system:beta/社保系统"),
        ("classified-on-cloud", "8.2.2.1 a)", "system:beta/档案系统"),
    ]
    exempt = text.replace("classified: true, status: planned", "classified: true, status: exempt")
    assert [v[2] for v in violations(parse_estate(exempt))] == ["system:beta/社保系统"]
