"""A project's Nova quotas as the reconciler compares them, and how to change them.

Nova has no "quotas never set" state to list like Neutron's: a project's quota set always answers, with
the defaults filled in, so reading it per project is the whole snapshot. The record carries the
project's id (what `revert_quota_set` needs to undo it) and no id of its own, like a Neutron quota.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openstack.connection import Connection

    from cloud.sdk import Reader


def read_compute_quota(reader: Reader, project_id: str, fields: Iterable[str]) -> SimpleNamespace:
    """The project's effective limits for `fields` (e.g. cores, ram in MiB, instances: the API's names
    are openstacksdk's)."""
    limits = reader.get("compute", f"/os-quota-sets/{project_id}").json()["quota_set"]
    return SimpleNamespace(project_id=project_id, id=None, **{name: limits[name] for name in fields})


def update_compute_quota(conn: Connection, live: Any, changes: dict[str, Any]) -> Any:
    """Set only the limits that differ from the plan."""
    return conn.compute.update_quota_set(live.project_id, **changes)
