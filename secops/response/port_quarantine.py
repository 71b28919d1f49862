"""`port-quarantine`: cut a gov-cloud workload off by swapping its Neutron port's security groups for a
deny-all group; undo gives the port back the groups it had.

The port is the one whose fixed IPs hold the incident's address. The kind calls openstacksdk directly
(cloud.quarantine) rather than through a playbook: the change is one port update, execution must report
the groups the port had (undo restores them) and check they are still the ones the reviewed plan showed,
and the openstack.cloud modules offer neither without a script around them. Execution refuses when the
port's groups changed after the request; undo refuses when someone changed them during the quarantine,
so neither overwrites a change made by hand.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Any

from secops.response.action import ActionKind, Impact, Model, Plan, Target, choose_address
from secops.response.errors import ActionError, ResponseError
from secops.response.registry import register

if TYPE_CHECKING:
    from openstack.connection import Connection

SECTION = "[response.kinds.port-quarantine]"


class PortQuarantineOptions(Model):
    cloud: str | None = None
    """The clouds.yaml entry (default: $OS_CLOUD); OS_CLIENT_CONFIG_FILE locates the file."""
    network: str | None = None
    """Only ports on this network id: for clouds where tenants reuse the same addresses."""


class PortQuarantineParams(Model):
    address: str
    cloud: str | None
    port: str
    project: str
    network: str
    groups: tuple[str, ...]
    """The port's security groups when the action was requested (what the plan replaces)."""


def _connect(cloud: str | None) -> Connection:
    import openstack
    from openstack import exceptions as os_exc

    try:
        return openstack.connect(cloud=cloud or os.environ.get("OS_CLOUD"))
    except os_exc.ConfigException as exc:
        raise ResponseError(f"{SECTION} cloud: {exc} (OS_CLIENT_CONFIG_FILE locates clouds.yaml)") from exc


def _port_of(conn: Connection, address: str, network: str | None) -> Any:
    query: dict[str, Any] = {"fixed_ips": [f"ip_address={address}"]}
    if network:
        query["network_id"] = network
    ports = list(conn.network.ports(**query))
    if not ports:
        where = f" on network {network}" if network else ""
        raise ResponseError(f"no Neutron port holds {address}{where}: is the address on the cloud?")
    if len(ports) > 1:
        found = ", ".join(f"{p.id} (network {p.network_id})" for p in ports)
        raise ResponseError(f"several ports hold {address}: {found}; set network = ID in {SECTION}")
    return ports[0]


class PortQuarantine(ActionKind[PortQuarantineParams, PortQuarantineOptions]):
    name = "port-quarantine"
    summary = "Swap the OpenStack port holding the incident's address onto a deny-all security group."
    impact = Impact.HIGH
    params_model = PortQuarantineParams
    options_model = PortQuarantineOptions

    def params(
        self, target: Target, options: PortQuarantineOptions, address: str | None
    ) -> PortQuarantineParams:
        from openstack import exceptions as os_exc

        chosen = str(ipaddress.ip_address(choose_address(target, address)))
        conn = _connect(options.cloud)
        try:
            port = _port_of(conn, chosen, options.network)
        except os_exc.SDKException as exc:
            raise ResponseError(f"the cloud could not be asked for the port of {chosen}: {exc}") from exc
        finally:
            conn.close()
        return PortQuarantineParams(
            address=chosen,
            cloud=options.cloud,
            port=port.id,
            project=port.project_id,
            network=port.network_id,
            groups=tuple(sorted(port.security_group_ids or [])),
        )

    def describe(self, params: PortQuarantineParams) -> str:
        return f"port {params.port} ({params.address}) quarantined on the deny-all security group"

    def plan(self, params: PortQuarantineParams) -> Plan:
        from cloud.quarantine import QUARANTINE

        return Plan(
            kind=self.name,
            step="execute",
            changes=(
                f"create security group {QUARANTINE} with no rules in project {params.project} if missing",
                f"port {params.port} ({params.address}, network {params.network}): security groups "
                f"[{', '.join(params.groups)}] -> [{QUARANTINE}]",
            ),
            playbook=None,
            extravars={"cloud": params.cloud, "port": params.port, "groups": list(params.groups)},
        )

    def undo_plan(self, params: PortQuarantineParams, outputs: dict[str, Any]) -> Plan:
        from cloud.quarantine import Quarantine

        try:
            done = Quarantine(**outputs)
        except TypeError as exc:
            raise ActionError(
                f"port-quarantine: execution reported {outputs}; restore the port by hand"
            ) from exc
        return Plan(
            kind=self.name,
            step="undo",
            changes=(
                f"port {done.port} ({params.address}): security groups [{done.group}] -> "
                f"[{', '.join(done.previous)}] (only while it is still on the quarantine group)",
            ),
            playbook=None,
            extravars={"cloud": params.cloud, **done.as_dict()},
        )

    def run(self, plan: Plan) -> dict[str, Any]:
        from openstack import exceptions as os_exc

        conn = _connect(plan.extravars["cloud"])
        try:
            return self._execute(conn, plan) if plan.step == "execute" else self._undo(conn, plan)
        except os_exc.SDKException as exc:
            raise ActionError(f"port-quarantine ({plan.step}): {exc}") from exc
        finally:
            conn.close()

    @staticmethod
    def _execute(conn: Connection, plan: Plan) -> dict[str, Any]:
        from cloud.quarantine import quarantine_groups, quarantine_port

        port = conn.network.get_port(plan.extravars["port"])
        now = sorted(port.security_group_ids or [])
        reviewed = plan.extravars["groups"]
        if now != reviewed and not set(now) <= quarantine_groups(list(conn.network.security_groups(id=now))):
            raise ActionError(
                f"port-quarantine: port {port.id} has groups [{', '.join(now)}] now, not the reviewed "
                f"[{', '.join(reviewed)}]; request the action again"
            )
        return quarantine_port(conn, port.id).as_dict()

    @staticmethod
    def _undo(conn: Connection, plan: Plan) -> dict[str, Any]:
        from cloud.quarantine import Quarantine, release_port

        done = Quarantine(**{k: v for k, v in plan.extravars.items() if k != "cloud"})
        now = sorted(conn.network.get_port(done.port).security_group_ids or [])
        if now != [done.group]:
            raise ActionError(
                f"port-quarantine: port {done.port} is no longer on the quarantine group (it has "
                f"[{', '.join(now)}]); nothing was changed, restore [{', '.join(done.previous)}] by hand"
            )
        release_port(conn, done)
        return {}


register(PortQuarantine())
