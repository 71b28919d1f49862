"""The openstacksdk executor: compare a plan with the live cloud and change only what differs.

Idempotent (a converged cloud gives no changes), resumable (every run starts from a fresh snapshot and
finds what an interrupted run created by name, so nothing is duplicated), parallel inside each dependency
layer, and every change goes to the audit sink. What a layer must create of a kind Neutron creates from a
list goes in bulk requests (cloud.actions.create_many): Neutron's time per request, not the client, is
what a first apply waits for. A bulk request is all or nothing, so a failed one is retried one by one to
name the resource that fails. Router interfaces go by port, one per network for both its subnets
(cloud.interfaces). Destroy removes the plan's resources in reverse order.
Inside the security groups and networks it manages, the reconciler also removes what the plan does not
declare (a rule or an RBAC share added by hand): that is the drift it exists to undo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from openstack import exceptions as os_exc

from cloud.actions import (
    ACTIONS,
    BULK_SIZE,
    CannotUpdateError,
    Delete,
    create_many,
    differences,
    settle,
    update,
)
from cloud.interfaces import InterfaceGroup, attach, create_ports, interface_groups, port_name
from cloud.live import RULE_FIELDS, Live
from cloud.plan import Kind, Plan, Resource
from cloud.planner import rule_name
from cloud.quarantine import quarantine_groups
from cloud.sdk import Reader

if TYPE_CHECKING:
    from openstack.connection import Connection

Audit = Callable[[str, str, dict[str, Any]], None]
"""(action, target, detail) for every change made."""
Progress = Callable[[int], None]
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class ResourceResult:
    """One resource's outcome; with `dry_run` the outcome is what would happen."""

    resource: str
    kind: str
    outcome: Outcome
    id: str | None = None
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.outcome in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "kind": self.kind,
            "outcome": str(self.outcome),
            "id": self.id,
            "changed": self.changed,
            "diff": {k: {"expected": e, "actual": a} for k, (e, a) in self.diff.items()},
            "error": self.error,
        }


@dataclass
class Report:
    """The result shape of a world-changing action: counts, per-resource results, dry-run flag."""

    action: str
    dry_run: bool
    results: list[ResourceResult]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def failed(self) -> int:
        return self.count(Outcome.FAILED)

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        counts = {str(o): self.count(o) for o in Outcome}
        return {
            "action": self.action,
            "dry_run": self.dry_run,
            "changed": self.changed,
            **counts,
            "results": [r.as_dict() for r in self.results],
        }


class Reconciler:
    """Plan against one cloud. `connect` makes a connection (one per worker thread); `read` makes the
    snapshot's reader (default: from a connection), which a caller can build without openstacksdk's
    service layer (`Reader.of_cloud`), so a run that changes nothing never imports it. `ahead` is a
    snapshot of the plan's domain already being read (`cloud.read_ahead`): the first run takes it."""

    def __init__(
        self,
        plan: Plan,
        connect: Callable[[], Connection],
        *,
        read: Callable[[], Reader] | None = None,
        ahead: Future[Live] | None = None,
        workers: int = 4,
        audit: Audit | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        self._connect = connect
        self._read = read or (lambda: Reader.of_connection(self.conn()))
        self._ahead = ahead
        self._local = threading.local()
        self.workers = workers
        self.audit = audit or (lambda action, target, detail: None)
        self.progress = progress or (lambda n: None)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._subnets: dict[str, Any] = {}
        """The live subnets of this run by plan key: their gateways are the router ports' addresses."""

    def conn(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def snapshot(self) -> Live:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            return ahead.result()
        return Live(self._read(), self.plan.domain)

    # --- apply -------------------------------------------------------------------------------------

    @contextmanager
    def _workers(self) -> Iterator[None]:
        """One pool for the whole run: its threads keep their connections (a token each) across layers."""
        with ThreadPoolExecutor(self.workers) as pool:
            self._pool = pool
            try:
                yield
            finally:
                self._pool = None

    def apply(self, dry_run: bool = False) -> Report:
        live = self.snapshot()
        ids: dict[str, str] = {}
        results: list[ResourceResult] = []
        self._subnets = {}
        with self._workers():
            for layer in self.plan.layers():
                results.extend(self._converge_layer(layer, live, ids, dry_run))
        results.extend(self._prune(live, ids, dry_run))
        return Report("apply", dry_run, results)

    def _converge_layer(
        self, layer: list[Resource], live: Live, ids: dict[str, str], dry_run: bool
    ) -> list[ResourceResult]:
        """The layer's results in its order: new resources of bulk kinds in chunks, new interfaces by
        port, the rest one by one, all side by side."""
        chunks = [] if dry_run else self._bulk_chunks(layer, live, ids)
        ported = [] if dry_run else self._interface_ports(layer, live, ids)
        grouped = {r.key for chunk in chunks for r in chunk} | {
            r.key for group, _ in ported for r in group.interfaces
        }
        rest = [r for r in layer if r.key not in grouped]
        work = (
            [partial(self._create_chunk, chunk, live, ids) for chunk in chunks]
            + [step for _, step in ported]
            + [partial(self._converge_each, [r], live, ids, dry_run) for r in rest]
        )
        done = {result.resource: result for batch in self._parallel(_call, work) for result in batch}
        return [done[r.key] for r in layer]

    def _bulk_chunks(self, layer: list[Resource], live: Live, ids: dict[str, str]) -> list[list[Resource]]:
        """The layer's resources that are missing, can be created in bulk and have all they refer to."""
        requests: dict[tuple[Kind, str | None], list[Resource]] = {}
        for r in layer:
            bulk = ACTIONS[r.kind].bulk
            if bulk and all(ref in ids for ref in r.refs.values()) and live.find(r, ids) is None:
                requests.setdefault((r.kind, r.refs.get(bulk.per or "")), []).append(r)
        return [
            todo[start : start + BULK_SIZE]
            for todo in requests.values()
            for start in range(0, len(todo), BULK_SIZE)
        ]

    def _create_chunk(self, chunk: list[Resource], live: Live, ids: dict[str, str]) -> list[ResourceResult]:
        refs = [{f: ids[ref] for f, ref in r.refs.items()} for r in chunk]
        try:
            created = create_many(self.conn(), chunk, refs)
        except os_exc.SDKException as exc:
            if _refused(exc):  # Neutron rolled it back, nothing exists: one by one names the culprit
                return self._converge_each(chunk, live, ids, dry_run=False)
            # no answer: made or not, a rerun finds what exists by name; retrying now could duplicate
            return self._failed(chunk, exc)
        results = []
        for resource, obj in zip(chunk, created, strict=True):
            self._remember(resource, obj, ids, live)
            self.audit("create", resource.key, {"props": resource.props, "id": ids[resource.key]})
            results.append(self._settle(resource, obj, ids[resource.key]))
            self.progress(1)
        return results

    def _failed(
        self, resources: list[Resource], exc: Exception, id_: str | None = None
    ) -> list[ResourceResult]:
        self.progress(len(resources))
        return [ResourceResult(r.key, r.kind, Outcome.FAILED, id_, error=_message(exc)) for r in resources]

    def _interface_ports(
        self, layer: list[Resource], live: Live, ids: dict[str, str]
    ) -> list[tuple[InterfaceGroup, Callable[[], list[ResourceResult]]]]:
        """The layer's new interfaces that can share a port, each group with its step: attach an
        interrupted run's port, or one made now for all groups in one request. A refused request leaves
        its interfaces to be attached by subnet, which names the culprit; one without an answer fails
        them (a rerun finds the ports by name)."""
        groups = interface_groups(self.plan, layer, live, ids, self._subnets)
        new = [g for g in groups if g.loose is None]
        made: Iterator[Any] = iter(())
        error: os_exc.SDKException | None = None
        try:
            made = iter(create_ports(self.conn(), new) if new else [])
        except os_exc.SDKException as exc:
            error = exc
            if _refused(exc):
                groups = [g for g in groups if g.loose is not None]
        steps: list[tuple[InterfaceGroup, Callable[[], list[ResourceResult]]]] = []
        for group in groups:
            port = group.loose
            if port is None and error is not None:
                steps.append((group, partial(self._failed, group.interfaces, error)))
                continue
            if port is None:
                port = next(made)
                self.audit(
                    "create",
                    f"port:{group.interfaces[0].tenant}/{group.name}",
                    {"id": port.id, "fixed_ips": port.fixed_ips},
                )
            steps.append((group, partial(self._attach, group, port, ids, live)))
        return steps

    def _attach(
        self, group: InterfaceGroup, port: Any, ids: dict[str, str], live: Live
    ) -> list[ResourceResult]:
        try:
            attach(self.conn(), group, port)
        except os_exc.SDKException as exc:
            return self._failed(group.interfaces, exc, port.id)
        results = []
        for resource in group.interfaces:
            self._remember(resource, port, ids, live)
            self.audit("create", resource.key, {"props": resource.props, "id": port.id, "port": group.name})
            results.append(ResourceResult(resource.key, resource.kind, Outcome.CREATED, port.id))
            self.progress(1)
        return results

    def _settle(self, resource: Resource, obj: Any, id_: str) -> ResourceResult:
        """What a new object needs after a bulk create (a group's egress rules gone); if that fails the
        object exists but is not as planned: a rerun converges it (cloud drift, the prune)."""
        try:
            settle(self.conn(), resource, obj)
        except os_exc.SDKException as exc:
            return ResourceResult(resource.key, resource.kind, Outcome.FAILED, id_, error=_message(exc))
        return ResourceResult(resource.key, resource.kind, Outcome.CREATED, id_)

    def _parallel(self, run: Callable[[_Item], _Result], items: list[_Item]) -> list[_Result]:
        if self._pool is None or self.workers <= 1 or len(items) <= 1:
            return [run(r) for r in items]
        return list(self._pool.map(run, items))

    def _converge_each(
        self, resources: list[Resource], live: Live, ids: dict[str, str], dry_run: bool
    ) -> list[ResourceResult]:
        return [self._converge(r, live, ids, dry_run) for r in resources]

    def _converge(self, resource: Resource, live: Live, ids: dict[str, str], dry_run: bool) -> ResourceResult:
        try:
            return self._converge_one(resource, live, ids, dry_run)
        except (os_exc.SDKException, CannotUpdateError) as exc:
            return ResourceResult(resource.key, resource.kind, Outcome.FAILED, error=_message(exc))
        finally:
            self.progress(1)

    def _converge_one(
        self, resource: Resource, live: Live, ids: dict[str, str], dry_run: bool
    ) -> ResourceResult:
        kind = resource.kind
        if kind is Kind.COMPUTE_QUOTA and not live.has_compute:
            return ResourceResult(
                resource.key, kind, Outcome.SKIPPED, error="no compute service in the catalog"
            )
        missing = [ref for ref in resource.refs.values() if ref not in ids]
        refs = {f: ids.get(ref) for f, ref in resource.refs.items()}
        if missing and not dry_run:
            return ResourceResult(
                resource.key, kind, Outcome.FAILED, error=f"needs {', '.join(missing)}, which failed"
            )
        found = None if missing else live.find(resource, ids)
        if found is None:
            if not dry_run:
                created = ACTIONS[kind].create(self.conn(), resource, refs)
                found = created if created is not None and getattr(created, "id", None) else None
                self._remember(resource, found, ids, live)
                self.audit("create", resource.key, {"props": resource.props, "id": _id(found, resource, ids)})
            else:
                with self._lock:
                    ids[resource.key] = f"(new {resource.key})"
            return ResourceResult(resource.key, kind, Outcome.CREATED, ids.get(resource.key))
        self._remember(resource, found, ids, live)
        diff = differences(resource, found, refs)
        if not diff:
            return ResourceResult(resource.key, kind, Outcome.UNCHANGED, ids[resource.key])
        if not dry_run:
            update(self.conn(), resource, found, diff)
            self.audit(
                "update",
                resource.key,
                {"id": ids[resource.key], "changes": {k: {"from": a, "to": e} for k, (e, a) in diff.items()}},
            )
        return ResourceResult(resource.key, kind, Outcome.UPDATED, ids[resource.key], diff)

    def _remember(self, resource: Resource, found: Any, ids: dict[str, str], live: Live) -> None:
        with self._lock:
            ids[resource.key] = _id(found, resource, ids)
            if resource.kind is Kind.SUBNET and found is not None:
                self._subnets[resource.key] = found

    def _prune(self, live: Live, ids: dict[str, str], dry_run: bool) -> list[ResourceResult]:
        """Undo what was added by hand inside what the plan manages: rules in its security groups, RBAC
        shares of its networks, and other groups on the ports of its networks (they get the baseline)."""
        planned = self.plan.resources
        groups = {ids[r.key]: r for r in planned if r.kind is Kind.SECURITY_GROUP and r.key in ids}
        planned_rules = {
            (ids.get(r.refs["security_group_id"]), tuple(r.props[f] for f in RULE_FIELDS))
            for r in planned
            if r.kind is Kind.SECURITY_GROUP_RULE
        }
        networks = {ids[r.key]: r for r in planned if r.kind is Kind.NETWORK and r.key in ids}
        planned_rbac = {
            (ids.get(r.refs["object_id"]), ids.get(r.refs["target_project_id"]))
            for r in planned
            if r.kind is Kind.RBAC_POLICY
        }
        results: list[ResourceResult] = []
        for rule in live.rules:
            group = groups.get(rule.security_group_id)
            if (
                group
                and (rule.security_group_id, tuple(getattr(rule, f) for f in RULE_FIELDS))
                not in planned_rules
            ):
                name = f"{Kind.SECURITY_GROUP_RULE}:{group.tenant}/{group.name}:{rule.id}"
                results.append(
                    self._delete(
                        name,
                        Kind.SECURITY_GROUP_RULE,
                        rule,
                        dry_run,
                        rule_name({f: getattr(rule, f) for f in RULE_FIELDS}),
                    )
                )
        for policy in live.rbac_policies:
            if (
                policy.object_id in networks
                and (policy.object_id, policy.target_project_id) not in planned_rbac
            ):
                name = f"{Kind.RBAC_POLICY}:{networks[policy.object_id].tenant}/{policy.id}"
                results.append(
                    self._delete(
                        name,
                        Kind.RBAC_POLICY,
                        policy,
                        dry_run,
                        f"shared with project {policy.target_project_id}",
                    )
                )
        by_project = {g.refs["project_id"]: gid for gid, g in groups.items()}
        quarantined = quarantine_groups(live.security_groups)
        for port in live.host_ports:
            network = networks.get(port.network_id)
            baseline = by_project.get(network.refs.get("project_id", "")) if network else None
            if network is None or baseline is None:
                continue
            actual = sorted(port.security_group_ids or [])
            if actual and set(actual) <= quarantined:
                continue  # contained by the SOC (cloud.quarantine): not drift
            if actual != [baseline]:
                results.append(
                    self._regroup(port, f"port:{network.tenant}/{port.id}", baseline, actual, dry_run)
                )
        return results

    def _regroup(
        self, port: Any, name: str, baseline: str, actual: list[str], dry_run: bool
    ) -> ResourceResult:
        diff = {"security_group_ids": ([baseline], actual)}
        try:
            if not dry_run:
                self.conn().network.update_port(port.id, security_group_ids=[baseline])
                self.audit(
                    "update",
                    name,
                    {"id": port.id, "changes": {"security_group_ids": {"from": actual, "to": [baseline]}}},
                )
        except os_exc.SDKException as exc:
            return ResourceResult(name, "port", Outcome.FAILED, port.id, diff, _message(exc))
        return ResourceResult(name, "port", Outcome.UPDATED, port.id, diff)

    def _delete(
        self,
        name: str,
        kind: str,
        obj: Any,
        dry_run: bool,
        found: str | None = None,
        remove: Delete | None = None,
    ) -> ResourceResult:
        """Delete `obj` (by its kind's action unless `remove` says how); `found` describes an unplanned
        object (its diff: expected absent, found this)."""
        diff = {"exists": (False, found)} if found is not None else {}
        try:
            if not dry_run:
                # gone with its parent, or an interrupted run got there first: the end is the same
                with suppress(os_exc.NotFoundException):
                    (remove or ACTIONS[Kind(kind)].delete)(self.conn(), obj)
                self.audit("delete", name, {"id": getattr(obj, "id", None)})
        except os_exc.SDKException as exc:
            return ResourceResult(name, kind, Outcome.FAILED, getattr(obj, "id", None), diff, _message(exc))
        return ResourceResult(name, kind, Outcome.DELETED, getattr(obj, "id", None), diff)

    # --- destroy -----------------------------------------------------------------------------------

    def destroy(self, dry_run: bool = True, keep: Iterable[str] = ()) -> Report:
        """Delete the plan's resources (children first); `keep` names resources other plans still use."""
        live = self.snapshot()
        ids: dict[str, str] = {}
        found: dict[str, Any] = {}
        for layer in self.plan.layers():
            for resource in layer:
                obj = live.find(resource, ids)
                if obj is not None:
                    ids[resource.key] = _id(obj, resource, ids)
                    found[resource.key] = obj
        with self._workers():
            results = self._remove_loose_ports(live, ids, dry_run)
            results += self._remove_layers(live, ids, found, set(keep), dry_run)
        return Report("destroy", dry_run, results)

    def _remove_loose_ports(self, live: Live, ids: dict[str, str], dry_run: bool) -> list[ResourceResult]:
        """Router ports an interrupted apply made but never attached: they would keep their subnets."""
        networks = {ids[r.key]: r for r in self.plan.resources if r.kind is Kind.NETWORK and r.key in ids}
        return [
            self._delete(
                f"port:{networks[p.network_id].tenant}/{p.name}",
                "port",
                p,
                dry_run,
                remove=lambda conn, port: conn.network.delete_port(port.id),
            )
            for p in live.router_ports
            if not p.device_id
            and p.network_id in networks
            and p.name == port_name(networks[p.network_id].name)
        ]

    def _remove_layers(
        self, live: Live, ids: dict[str, str], found: dict[str, Any], kept: set[str], dry_run: bool
    ) -> Iterator[ResourceResult]:
        for layer in reversed(self.plan.layers()):
            # one live object may be several resources' (a router port on both subnets of a network)
            by_object: dict[tuple[Kind, str], list[Resource]] = {}
            for r in layer:
                if r.key not in kept:
                    by_object.setdefault((r.kind, getattr(found.get(r.key), "id", None) or r.key), []).append(
                        r
                    )

            def remove(resources: list[Resource]) -> list[ResourceResult]:
                first = resources[0]
                try:
                    obj = found.get(first.key)
                    if obj is None or (
                        first.kind in (Kind.NETWORK_QUOTA, Kind.COMPUTE_QUOTA)
                        and not live.quotas.get(ids.get(first.refs["project_id"], ""))
                    ):
                        return [ResourceResult(r.key, r.kind, Outcome.UNCHANGED) for r in resources]
                    done = self._delete(first.key, first.kind, obj, dry_run)
                    return [done, *(replace(done, resource=r.key) for r in resources[1:])]
                finally:
                    self.progress(len(resources))

            for results in self._parallel(remove, list(by_object.values())):
                yield from results


def _call(step: Callable[[], _Result]) -> _Result:
    return step()


def _id(obj: Any, resource: Resource, ids: dict[str, str]) -> str:
    """A live object's id; resources without one (assignments, quotas) are named by what they join."""
    if obj is not None and getattr(obj, "id", None) and resource.kind not in (Kind.NETWORK_QUOTA,):
        return str(obj.id)
    return "+".join(ids.get(ref, "?") for ref in resource.refs.values()) or resource.key


def _refused(exc: os_exc.SDKException) -> bool:
    """The server answered that it would not do it (a 4xx), as opposed to no or a broken answer."""
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500


def _message(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    return f"{exc}" if not details else f"{type(exc).__name__}: {details}"
