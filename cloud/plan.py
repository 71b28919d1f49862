"""The desired OpenStack state, as both executors (the reconciler and the Pulumi program) consume it.

A plan is a flat list of `Resource`s. Each names its kind, its OpenStack name, the project it lives in
and the fields the live cloud must show (`props`); `refs` say which other resources' ids fill a field,
which is also the dependency graph (a resource is created after everything it refers to).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Resource kinds in creation order of their layer (a kind only refers to earlier kinds)."""

    DOMAIN = "domain"
    PROJECT = "project"
    USER = "user"
    ROLE_ASSIGNMENT = "role_assignment"
    NETWORK_QUOTA = "network_quota"
    COMPUTE_QUOTA = "compute_quota"
    SUBNET_POOL = "subnet_pool"
    NETWORK = "network"
    SUBNET = "subnet"
    RBAC_POLICY = "rbac_policy"
    ROUTER = "router"
    ROUTER_INTERFACE = "router_interface"
    SECURITY_GROUP = "security_group"
    SECURITY_GROUP_RULE = "security_group_rule"


CLOUD = "_cloud"
"""The owner of resources that belong to the cloud rather than a tenant (shared planes, subnet pools)."""


@dataclass(frozen=True)
class Resource:
    kind: Kind
    name: str
    tenant: str
    props: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    """field -> key of the resource whose id fills it (`project_id` -> `project:zsj/zsj`)."""
    hints: dict[str, Any] = field(default_factory=dict)
    """fields given only at creation and never compared (a prefix length the pool allocates from)."""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.tenant}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.key,
            "kind": str(self.kind),
            "name": self.name,
            "tenant": self.tenant,
            "props": self.props,
            "refs": self.refs,
            "hints": self.hints,
        }


@dataclass
class Plan:
    estate: str
    resources: list[Resource]
    domain: str

    def __post_init__(self) -> None:
        self._by_key = {r.key: r for r in self.resources}
        if len(self._by_key) != len(self.resources):
            raise ValueError("plan has duplicate resource keys")

    def get(self, key: str) -> Resource:
        return self._by_key[key]

    def tenants(self) -> list[str]:
        return sorted({r.tenant for r in self.resources if r.tenant != CLOUD})

    def only(self, tenants: list[str]) -> Plan:
        """The part of the plan for these tenants, plus the cloud-level resources it needs."""
        chosen = {r.key for r in self.resources if r.tenant in tenants}
        for key in list(chosen):
            chosen |= set(self._closure(key))
        # and the cloud's own resources that complete what was pulled in (a plane network's subnets)
        for r in self.resources:
            if r.tenant == CLOUD and r.refs and set(r.refs.values()) <= chosen:
                chosen.add(r.key)
        return Plan(self.estate, [r for r in self.resources if r.key in chosen], self.domain)

    def _closure(self, key: str) -> Iterator[str]:
        for ref in self._by_key[key].refs.values():
            if ref in self._by_key:
                yield ref
                yield from self._closure(ref)

    def layers(self) -> list[list[Resource]]:
        """Resources grouped so that each layer depends only on earlier layers (parallel within one)."""
        depth: dict[str, int] = {}

        def level(key: str) -> int:
            if key not in depth:
                refs = [r for r in self._by_key[key].refs.values() if r in self._by_key]
                depth[key] = 1 + max((level(r) for r in refs), default=-1)
            return depth[key]

        result: list[list[Resource]] = []
        for resource in self.resources:
            at = level(resource.key)
            while len(result) <= at:
                result.append([])
            result[at].append(resource)
        return result

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.kind] = counts.get(resource.kind, 0) + 1
        return counts
