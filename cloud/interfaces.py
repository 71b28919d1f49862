"""Router interfaces by port: one port per tenant network carrying the gateway address of each of its
subnets (IPv4 and IPv6), made for a whole layer in one bulk request, then attached once per network.

Attaching by subnet costs Neutron one `add_router_interface` per subnet (~2 s each here, the slowest
write of a first apply); a port on both subnets halves those calls. The plan keeps one interface per
subnet (as Pulumi and Ansible declare them): both find the same port, whose fixed IPs name the subnets.
Ports are named after their network (`egovops-rif-<network>`), so a run killed between the port and its
attach leaves a port the next run finds by name and attaches instead of colliding with its gateway
address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openstack.network.v2.port import Port

from cloud.live import Live
from cloud.plan import Kind, Plan, Resource

if TYPE_CHECKING:
    from openstack.connection import Connection

ROUTER_INTERFACE = "network:router_interface"
"""The owner set at creation: Neutron lets only router ports take a chosen address on SLAAC subnets."""


def port_name(network: str) -> str:
    return f"egovops-rif-{network}"


@dataclass(frozen=True)
class InterfaceGroup:
    """The missing interfaces of one router on one network, made as one port."""

    router_id: str
    network_id: str
    name: str
    project_id: str
    interfaces: list[Resource]
    gateways: list[tuple[str, str]]
    """(subnet id, gateway address) per interface, in the same order."""
    loose: Any
    """A port of an interrupted run, created but never attached (None: none found)."""

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "network_id": self.network_id,
            "project_id": self.project_id,
            "device_owner": ROUTER_INTERFACE,
            "fixed_ips": [{"subnet_id": s, "ip_address": ip} for s, ip in self.gateways],
        }


def interface_groups(
    plan: Plan, layer: list[Resource], live: Live, ids: dict[str, str], subnets: dict[str, Any]
) -> list[InterfaceGroup]:
    """The layer's missing interfaces that can share a port: two or more subnets of one network, all
    with a gateway, on a router that has no interface on that network yet. `subnets` are the live
    subnets by plan key."""
    todo: dict[tuple[str, str], list[Resource]] = {}
    for r in layer:
        if r.kind is Kind.ROUTER_INTERFACE and all(ref in ids for ref in r.refs.values()):
            network = plan.get(r.refs["subnet_id"]).refs["network_id"]
            if network in ids and live.find(r, ids) is None:
                todo.setdefault((r.refs["router_id"], network), []).append(r)
    groups = []
    for (router, network), interfaces in todo.items():
        router_id, network_id = ids[router], ids[network]
        gateways = [
            (ids[r.refs["subnet_id"]], getattr(subnets.get(r.refs["subnet_id"]), "gateway_ip", None))
            for r in interfaces
        ]
        attached = any(p.device_id == router_id and p.network_id == network_id for p in live.router_ports)
        if len(interfaces) < 2 or attached or any(ip is None for _, ip in gateways):
            continue
        name = port_name(plan.get(network).name)
        loose = next(
            (
                p
                for p in live.router_ports
                if p.name == name and p.network_id == network_id and not p.device_id
            ),
            None,
        )
        project = ids[plan.get(router).refs["project_id"]]
        groups.append(
            InterfaceGroup(
                router_id, network_id, name, project, interfaces, [(s, str(ip)) for s, ip in gateways], loose
            )
        )
    return groups


def create_ports(conn: Connection, groups: list[InterfaceGroup]) -> list[Any]:
    """One port per group, in one request (all or nothing, as Neutron's bulk create is)."""
    return list(Port.bulk_create(conn.network, [g.body() for g in groups]))


def attach(conn: Connection, group: InterfaceGroup, port: Any) -> None:
    """Attach the group's port, first giving an adopted one the addresses the plan wants now."""
    wanted = sorted(group.body()["fixed_ips"], key=lambda ip: ip["subnet_id"])
    if sorted(port.fixed_ips or [], key=lambda ip: ip["subnet_id"]) != wanted:
        conn.network.update_port(port.id, fixed_ips=wanted)
    conn.network.add_interface_to_router(group.router_id, port=port.id)
