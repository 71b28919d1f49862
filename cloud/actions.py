"""How each kind of resource is created, updated and deleted through openstacksdk, and which of its
live fields the plan's `props` are compared with.

Neutron serialises requests here (SQLite, one request thread) and each write costs it ~0.5 s, so the
kinds its API creates from a list (networks, subnets, security groups and their rules) are created many
in one request (`create_many`). Neutron runs a list body in one transaction: all of it or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openstack import resource
from openstack.network.v2.network import Network
from openstack.network.v2.security_group import SecurityGroup
from openstack.network.v2.security_group_rule import SecurityGroupRule
from openstack.network.v2.subnet import Subnet

from cloud.compute_quota import update_compute_quota
from cloud.live import identity
from cloud.plan import Kind, Resource

if TYPE_CHECKING:
    from openstack.connection import Connection

Create = Callable[["Connection", Resource, dict[str, Any]], Any]
Update = Callable[["Connection", Any, dict[str, Any]], object]
Delete = Callable[["Connection", Any], object]


BULK_SIZE = 100
"""Resources per bulk request: keeps one request's transaction (and a failed chunk's retry) short."""


class CannotUpdateError(Exception):
    """A field differs that OpenStack cannot change in place."""


@dataclass(frozen=True)
class Bulk:
    """How a kind is created from a list: the openstacksdk type, whether it takes the plan's name, and
    what each new object needs after its creation."""

    kind: type[resource.Resource]
    named: bool = True
    settle: Callable[[Connection, Any], object] | None = None
    per: str | None = None
    """A ref all of one request share (Neutron takes the rules of one group at a time)."""


@dataclass(frozen=True)
class Action:
    create: Create
    delete: Delete
    update: Update | None = None
    bulk: Bulk | None = None
    immutable: tuple[str, ...] = ()
    compare: bool = True
    """False: the props only say which object it is (a role assignment), nothing can differ."""
    compared_refs: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    """ref fields compared with the live object too (a router's gateway network)."""


def _args(r: Resource, refs: dict[str, Any], *drop: str, named: bool = True) -> dict[str, Any]:
    args = {k: v for k, v in {**r.props, **r.hints, **refs}.items() if k not in drop and v is not None}
    return {"name": r.name, **args} if named else args


def _deny_all(conn: Connection, group: Any) -> None:
    """Neutron gives a new group egress rules that allow all: the baseline denies what it does not open."""
    for rule in group.security_group_rules or []:
        conn.network.delete_security_group_rule(rule["id"], ignore_missing=True)


def _create_group(conn: Connection, r: Resource, refs: dict[str, Any]) -> Any:
    group = conn.network.create_security_group(**_args(r, refs))
    _deny_all(conn, group)
    return group


def _create_router(conn: Connection, r: Resource, refs: dict[str, Any]) -> Any:
    args = _args(r, refs, "external_network_id")
    if refs.get("external_network_id"):
        args["external_gateway_info"] = {"network_id": refs["external_network_id"]}
    return conn.network.create_router(**args)


def _update_router(conn: Connection, live: Any, changes: dict[str, Any]) -> None:
    if "external_network_id" in changes:
        network = changes.pop("external_network_id")
        changes["external_gateway_info"] = {"network_id": network} if network else {}
    conn.network.update_router(live.id, **changes)


def _assign(conn: Connection, r: Resource, refs: dict[str, Any]) -> Any:
    role = identity(conn).find_role(r.props["role"], ignore_missing=False)
    identity(conn).assign_project_role_to_user(refs["project_id"], refs["user_id"], role)
    return None


def _unassign(conn: Connection, live: Any) -> None:
    identity(conn).unassign_project_role_from_user(
        live.scope["project"]["id"], live.user["id"], live.role["id"]
    )


def _delete_domain(conn: Connection, live: Any) -> None:
    identity(conn).update_domain(live.id, is_enabled=False)
    identity(conn).delete_domain(live.id)


def _set_network_quota(conn: Connection, r: Resource, refs: dict[str, Any]) -> Any:
    return conn.network.update_quota(refs["project_id"], **r.props)


def _set_compute_quota(conn: Connection, r: Resource, refs: dict[str, Any]) -> Any:
    return conn.compute.update_quota_set(refs["project_id"], **r.props)


ACTIONS: dict[Kind, Action] = {
    Kind.DOMAIN: Action(
        lambda c, r, refs: identity(c).create_domain(**_args(r, refs)),
        _delete_domain,
        lambda c, live, ch: identity(c).update_domain(live.id, **ch),
    ),
    Kind.PROJECT: Action(
        lambda c, r, refs: identity(c).create_project(**_args(r, refs)),
        lambda c, live: identity(c).delete_project(live.id),
        lambda c, live, ch: identity(c).update_project(live.id, **ch),
    ),
    Kind.USER: Action(
        lambda c, r, refs: identity(c).create_user(**_args(r, refs)),
        lambda c, live: identity(c).delete_user(live.id),
        lambda c, live, ch: identity(c).update_user(live.id, **ch),
        compared_refs={"default_project_id": lambda live: live.default_project_id},
    ),
    Kind.ROLE_ASSIGNMENT: Action(_assign, _unassign, compare=False),
    Kind.NETWORK_QUOTA: Action(
        _set_network_quota,
        lambda c, live: c.network.delete_quota(live.project_id),
        lambda c, live, ch: c.network.update_quota(live.project_id, **ch),
    ),
    Kind.COMPUTE_QUOTA: Action(
        _set_compute_quota, lambda c, live: c.compute.revert_quota_set(live.project_id), update_compute_quota
    ),
    Kind.SUBNET_POOL: Action(
        lambda c, r, refs: c.network.create_subnet_pool(**_args(r, refs, "ip_version")),
        lambda c, live: c.network.delete_subnet_pool(live.id),
        lambda c, live, ch: c.network.update_subnet_pool(live.id, **ch),
        immutable=("ip_version", "is_shared"),
    ),
    Kind.NETWORK: Action(
        lambda c, r, refs: c.network.create_network(**_args(r, refs)),
        lambda c, live: c.network.delete_network(live.id),
        lambda c, live, ch: c.network.update_network(live.id, **ch),
        Bulk(Network),
        immutable=("provider_network_type", "provider_physical_network", "provider_segmentation_id"),
    ),
    Kind.SUBNET: Action(
        lambda c, r, refs: c.network.create_subnet(**_args(r, refs)),
        lambda c, live: c.network.delete_subnet(live.id),
        lambda c, live, ch: c.network.update_subnet(live.id, **ch),
        Bulk(Subnet),
        immutable=("ip_version", "cidr", "ipv6_ra_mode", "ipv6_address_mode"),
    ),
    Kind.RBAC_POLICY: Action(
        lambda c, r, refs: c.network.create_rbac_policy(**_args(r, refs, named=False)),
        lambda c, live: c.network.delete_rbac_policy(live.id),
        compare=False,
    ),
    Kind.ROUTER: Action(
        _create_router,
        lambda c, live: c.network.delete_router(live.id),
        _update_router,
        compared_refs={
            "external_network_id": lambda live: (live.external_gateway_info or {}).get("network_id")
        },
    ),
    Kind.ROUTER_INTERFACE: Action(
        lambda c, r, refs: c.network.add_interface_to_router(refs["router_id"], subnet=refs["subnet_id"]),
        lambda c, live: c.network.remove_interface_from_router(live.device_id, port=live.id),
        compare=False,
    ),
    Kind.SECURITY_GROUP: Action(
        _create_group,
        lambda c, live: c.network.delete_security_group(live.id),
        lambda c, live, ch: c.network.update_security_group(live.id, **ch),
        Bulk(SecurityGroup, settle=_deny_all),
    ),
    Kind.SECURITY_GROUP_RULE: Action(
        lambda c, r, refs: c.network.create_security_group_rule(**_args(r, refs, named=False)),
        lambda c, live: c.network.delete_security_group_rule(live.id),
        bulk=Bulk(SecurityGroupRule, named=False, per="security_group_id"),
        compare=False,
    ),
}


def differences(resource: Resource, live: Any, refs: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """field -> (expected, actual) for every compared field that differs."""
    action = ACTIONS[resource.kind]
    diffs: dict[str, tuple[Any, Any]] = {}
    for name, wanted in resource.props.items() if action.compare else ():
        actual = getattr(live, name, None)
        expected = sorted(wanted) if isinstance(wanted, list) else wanted
        if isinstance(wanted, list):
            actual = sorted(actual or [])
        if actual != expected:
            diffs[name] = (expected, actual)
    for name, read in action.compared_refs.items():
        if read(live) != refs.get(name):
            diffs[name] = (refs.get(name), read(live))
    return diffs


def update(conn: Connection, resource: Resource, live: Any, diffs: dict[str, tuple[Any, Any]]) -> None:
    action = ACTIONS[resource.kind]
    blocked = [f for f in diffs if f in action.immutable]
    if blocked or action.update is None:
        fields = ", ".join(blocked or diffs)
        raise CannotUpdateError(f"{fields} cannot change in place: destroy and re-apply {resource.key}")
    action.update(conn, live, {name: expected for name, (expected, _) in diffs.items()})


def _bulk(kind: Kind) -> Bulk:
    bulk = ACTIONS[kind].bulk
    if bulk is None:
        raise ValueError(f"{kind} has no bulk create")
    return bulk


def create_many(conn: Connection, resources: list[Resource], refs: list[dict[str, Any]]) -> list[Any]:
    """Create resources of one bulk-capable kind in one request; the new objects, in the same order.
    Each then needs `settle`."""
    bulk = _bulk(resources[0].kind)
    body = [_args(r, ids, named=bulk.named) for r, ids in zip(resources, refs, strict=True)]
    return list(bulk.kind.bulk_create(conn.network, body))


def settle(conn: Connection, resource: Resource, created: Any) -> None:
    """What an object made by `create_many` needs before it is as planned."""
    bulk = _bulk(resource.kind)
    if bulk.settle is not None:
        bulk.settle(conn, created)
