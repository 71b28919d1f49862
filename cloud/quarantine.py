"""Port quarantine for the SOC: swap a port's security groups for a deny-all group, and put them back.

These are the cloud's public action functions (the response registry in secops/ wraps them as an action
kind); the reconciler and drift leave a quarantined port alone, so `apply` never undoes a containment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openstack.connection import Connection


QUARANTINE = "egovops-quarantine"
"""The deny-all group, one per project, created on first use with no rules at all."""


@dataclass(frozen=True)
class Quarantine:
    """What undo needs: the port and the groups it had."""

    port: str
    project: str
    previous: list[str]
    group: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _group(conn: Connection, project: str) -> Any:
    found = conn.network.find_security_group(QUARANTINE, project_id=project)
    if found is not None:
        return found
    group = conn.network.create_security_group(
        name=QUARANTINE, project_id=project, description="deny-all: quarantined ports (egovops respond)"
    )
    for rule in group.security_group_rules or []:
        conn.network.delete_security_group_rule(rule["id"], ignore_missing=True)
    return group


def quarantine_port(conn: Connection, port_id: str) -> Quarantine:
    """Replace the port's groups with the deny-all group (port security stays on, so nothing passes)."""
    port = conn.network.get_port(port_id)
    group = _group(conn, port.project_id)
    done = Quarantine(port.id, port.project_id, sorted(port.security_group_ids or []), group.id)
    if done.previous != [group.id]:
        conn.network.update_port(port, security_group_ids=[group.id])
    return done


def release_port(conn: Connection, quarantine: Quarantine) -> None:
    """Undo: give the port back the groups it had before the quarantine."""
    conn.network.update_port(quarantine.port, security_group_ids=quarantine.previous)


def quarantine_groups(groups: list[Any]) -> set[str]:
    """Ids of the deny-all groups among a list of live security groups."""
    return {g.id for g in groups if g.name == QUARANTINE}
