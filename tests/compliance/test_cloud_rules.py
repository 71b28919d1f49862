"""How a security group rule reads to the cloud checks: Neutron's rule without a remote prefix or group
admits the whole world; a management port inside a range counts; default deny fails only on allow-all."""

from __future__ import annotations

import pytest

from secops.compliance.evidence.cloud import MANAGEMENT_PORTS, Rule

EVERY = list(MANAGEMENT_PORTS)


@pytest.mark.parametrize(
    ("rule", "ports", "allows_all"),
    [
        (Rule("r", "ingress", "tcp", 22, 22, "0.0.0.0/0"), [22], False),
        (Rule("r", "ingress", "tcp", 22, 22, None), [22], False),  # no remote at all: the world
        (Rule("r", "ingress", "tcp", 22, 22, None, remote_group="sg-1"), [], False),  # members of a group
        (Rule("r", "ingress", "tcp", 3000, 3400, "::/0"), [3306, 3389], False),
        (Rule("r", "ingress", None, None, None, "0.0.0.0/0"), EVERY, True),
        (Rule("r", "ingress", "udp", 1, 65535, "::/0"), EVERY, True),
        (Rule("r", "ingress", "icmp", None, None, "0.0.0.0/0"), [], False),
        (Rule("r", "egress", None, None, None, None), [], False),
        (Rule("r", "ingress", "tcp", 443, 443, "10.0.0.0/8"), [], False),
    ],
)
def test_rule_reading(rule: Rule, ports: list[int], allows_all: bool) -> None:
    assert (rule.management_ports(), rule.allows_all) == (ports, allows_all)
