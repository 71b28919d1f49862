"""`egovops tenant`: gov-cloud tenants from the estate onto OpenStack (plan, diff, apply, drift, destroy).

The commands are thin: they load the estate, plan it (cloud.planner), check policy (cloud.policy) and hand
the plan to the reconciler; every change it makes goes to the audit trail.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from egovops.cli.common import Exit, JsonOpt, emit_json, err, fail, out, progress_wanted, state, user_errors
from egovops.estate import Estate, EstateError, load_estate

if TYPE_CHECKING:
    from concurrent.futures import Future

    from cloud.live import Live
    from cloud.plan import Plan
    from cloud.reconciler import Report

app = typer.Typer(
    help="Gov-cloud tenants on OpenStack: plan, diff, apply, drift, destroy.", no_args_is_help=True
)

EstateOpt = Annotated[
    Path, typer.Option("--estate", "-e", help="The estate file (stacks/<city>/estate.yaml).")
]
TenantOpt = Annotated[
    list[str] | None, typer.Option("--tenant", "-t", help="Only this tenant (repeatable; default: all).")
]
CloudOpt = Annotated[
    str | None, typer.Option("--cloud", help="clouds.yaml entry (default: [cloud] cloud, then $OS_CLOUD).")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Make the changes without asking.")]


def _estate(path: Path, as_json: bool) -> Estate:
    try:
        return load_estate(path)
    except EstateError as exc:
        fail(str(exc), Exit.INPUT, as_json)


def _plan(estate: Estate, tenants: list[str] | None, as_json: bool) -> Plan:
    from cloud.planner import plan_estate

    plan = plan_estate(estate)
    unknown = sorted(set(tenants or []) - {t.name for t in estate.tenants})
    if unknown:
        fail(
            f"unknown tenant(s) {', '.join(unknown)}: the estate has {', '.join(plan.tenants())}",
            Exit.USAGE,
            as_json,
        )
    return plan.only(tenants) if tenants else plan


@contextmanager
def _cloud_errors(as_json: bool) -> Iterator[None]:
    """openstacksdk's configuration and connection errors as one line and an exit code."""
    from keystoneauth1 import exceptions as ks_exc

    from cloud.sdk import exceptions as os_exc

    try:
        yield
    except os_exc.ConfigException as exc:
        fail(
            f"{exc} (name a cloud of clouds.yaml with --cloud; OS_CLIENT_CONFIG_FILE locates the file)",
            Exit.CONFIG,
            as_json,
        )
    except (ks_exc.ConnectFailure, ks_exc.Unauthorized, ks_exc.DiscoveryFailure) as exc:
        fail(f"the cloud cannot be used: {exc}", Exit.STORE, as_json)


def _cloud_name(ctx: typer.Context, cloud: str | None) -> str | None:
    return cloud or state(ctx).settings.cloud.cloud or os.environ.get("OS_CLOUD")


def _audit(ctx: typer.Context) -> Callable[[str, str, dict[str, Any]], None]:
    path = state(ctx).settings.response.audit_log
    actor = f"{getpass.getuser()}@egovops-tenant"

    def record(action: str, target: str, detail: dict[str, Any]) -> None:
        from egovops.audit import AuditTrail  # here: a run that changes nothing never loads it (SM3 ...)

        AuditTrail(path).append(actor, f"cloud.{action}", target, detail)

    return record


@contextmanager
def _progress(total: int, label: str, as_json: bool) -> Iterator[Callable[[int], None]]:
    if not progress_wanted(as_json):
        yield lambda n: None
        return
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress("[progress.description]{task.description}", *columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _violations(estate: Estate, plan: Plan) -> list[dict[str, str]]:
    from cloud.policy import check_plan

    return [v.as_dict() for v in check_plan(estate, plan)]


def _render(report: Report, as_json: bool, verbose: bool = False) -> None:
    data = report.as_dict()
    if as_json:
        emit_json(data)
        return
    table = Table(
        "resource", "outcome", "detail", title=f"{report.action}{' (dry run)' if report.dry_run else ''}"
    )
    for result in report.results:
        if result.changed or result.error or verbose:
            detail = result.error or ", ".join(f"{k}: {a!r} -> {e!r}" for k, (e, a) in result.diff.items())
            table.add_row(result.resource, str(result.outcome), detail)
    out.print(table)
    counts = ("created", "updated", "deleted", "unchanged", "failed", "skipped")
    out.print("  ".join(f"{c}: {data[c]}" for c in counts))


def _finish(report: Report) -> None:
    if report.failed:
        raise typer.Exit(int(Exit.PARTIAL))


@app.command()
def plan(
    ctx: typer.Context, estate_path: EstateOpt, tenant: TenantOpt = None, as_json: JsonOpt = False
) -> None:
    """The desired OpenStack state of the estate's tenants and the policy checks on it (no cloud needed)."""
    with user_errors(as_json):
        estate = _estate(estate_path, as_json)
        desired = _plan(estate, tenant, as_json)
        violations = _violations(estate, desired)
    if as_json:
        emit_json(
            {
                "estate": desired.estate,
                "counts": desired.counts(),
                "violations": violations,
                "resources": [r.as_dict() for r in desired.resources],
            }
        )
    else:
        table = Table("kind", "count", title=f"plan for {estate.city} ({desired.estate})")
        for kind, count in desired.counts().items():
            table.add_row(str(kind), str(count))
        out.print(table)
        _print_violations(violations)
    if violations:
        raise typer.Exit(int(Exit.INPUT))


def _print_violations(violations: list[dict[str, str]]) -> None:
    for v in violations:
        out.print(f"[red]policy[/] {v['rule']} (等保 {v['item']}) {v['resource']}: {v['message']}")


def _refuse_violations(estate: Estate, desired: Plan, as_json: bool) -> None:
    violations = _violations(estate, desired)
    if violations:
        lines = [f"{v['rule']} (等保 {v['item']}) {v['resource']}: {v['message']}" for v in violations]
        fail("the plan violates policy, nothing was changed:\n  " + "\n  ".join(lines), Exit.INPUT, as_json)


def _read_ahead(ctx: typer.Context, cloud: str | None, estate: Estate) -> Future[Live]:
    """The live snapshot, started before the plan is made (only where it is used without a prompt)."""
    from cloud.read_ahead import read_ahead

    return read_ahead(_cloud_name(ctx, cloud), estate.name)


def _reconciler(
    ctx: typer.Context,
    desired: Plan,
    cloud: str | None,
    progress: Callable[[int], None],
    audit: bool = True,
    ahead: Future[Live] | None = None,
) -> Any:
    from cloud.reconciler import Reconciler
    from cloud.sdk import Reader, connect

    name = _cloud_name(ctx, cloud)
    return Reconciler(
        desired,
        lambda: connect(name),
        read=lambda: Reader.of_cloud(name),
        ahead=ahead,
        workers=state(ctx).settings.cloud.workers,
        audit=_audit(ctx) if audit else None,
        progress=progress,
    )


@app.command()
def diff(
    ctx: typer.Context,
    estate_path: EstateOpt,
    tenant: TenantOpt = None,
    cloud: CloudOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What `apply` would change on the live cloud (a dry run; nothing is changed)."""
    with user_errors(as_json), _cloud_errors(as_json):
        estate = _estate(estate_path, as_json)
        ahead = _read_ahead(ctx, cloud, estate)
        desired = _plan(estate, tenant, as_json)
        with _progress(len(desired.resources), "comparing", as_json) as advance:
            report = _reconciler(ctx, desired, cloud, advance, audit=False, ahead=ahead).apply(dry_run=True)
    _render(report, as_json)
    _finish(report)


@app.command()
def apply(
    ctx: typer.Context,
    estate_path: EstateOpt,
    tenant: TenantOpt = None,
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Make the cloud match the plan: create, update and remove only what differs (idempotent, resumable)."""
    with user_errors(as_json), _cloud_errors(as_json):
        estate = _estate(estate_path, as_json)
        ahead = _read_ahead(ctx, cloud, estate) if yes else None
        desired = _plan(estate, tenant, as_json)
        _refuse_violations(estate, desired, as_json)
        if not yes:
            _confirm(f"apply the plan for {', '.join(tenant or desired.tenants())}?", as_json)
        with _progress(len(desired.resources), "applying", as_json) as advance:
            report = _reconciler(ctx, desired, cloud, advance, ahead=ahead).apply()
    _render(report, as_json)
    _finish(report)


def _confirm(question: str, as_json: bool) -> None:
    if as_json or not sys.stdin.isatty():
        fail("refusing to change the cloud without --yes (not asked interactively)", Exit.USAGE, as_json)
    if not typer.confirm(question):
        raise typer.Exit(int(Exit.OK))


@app.command()
def destroy(
    ctx: typer.Context,
    estate_path: EstateOpt,
    tenant: TenantOpt = None,
    cloud: CloudOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really delete (default: a dry run).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete the tenants' resources, children first. A dry run unless --yes."""
    with user_errors(as_json), _cloud_errors(as_json):
        estate = _estate(estate_path, as_json)
        desired = _plan(estate, tenant, as_json)
        # with --tenant, what the plan pulls in from elsewhere (the domain, shared planes, a project an
        # RBAC share points at) stays
        keep = [r.key for r in desired.resources if r.tenant not in tenant] if tenant else []
        with _progress(len(desired.resources), "destroying", as_json) as advance:
            report = _reconciler(ctx, desired, cloud, advance).destroy(dry_run=not yes, keep=keep)
    _render(report, as_json)
    _finish(report)


@app.command()
def drift(
    ctx: typer.Context,
    estate_path: EstateOpt,
    tenant: TenantOpt = None,
    cloud: CloudOpt = None,
    fix: Annotated[bool, typer.Option("--fix", help="Re-converge: apply the plan over the drift.")] = False,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Out-of-band changes per resource and field with the 等保 item each weakens; exit 1 while any remain."""
    from cloud.drift import drift_of

    with user_errors(as_json), _cloud_errors(as_json):
        estate = _estate(estate_path, as_json)
        ahead = _read_ahead(ctx, cloud, estate)
        desired = _plan(estate, tenant, as_json)
        with _progress(len(desired.resources), "comparing", as_json) as advance:
            comparing = _reconciler(ctx, desired, cloud, advance, audit=False, ahead=ahead)
            found = drift_of(comparing.apply(dry_run=True))
        fixed = None
        if fix and found:
            _refuse_violations(estate, desired, as_json)
            if not yes:
                _confirm(f"re-converge {len(found)} drifted field(s)?", as_json)
            with _progress(len(desired.resources), "re-converging", as_json) as advance:
                fixed = _reconciler(ctx, desired, cloud, advance).apply()
    if as_json:
        emit_json(
            {
                "drifted": len(found),
                "drift": [d.as_dict() for d in found],
                "fixed": fixed.as_dict() if fixed else None,
            }
        )
    else:
        table = Table("resource", "field", "expected", "actual", "等保", title="drift")
        for d in found:
            table.add_row(d.resource, d.field, repr(d.expected), repr(d.actual), d.item)
        out.print(table if found else "no drift: the cloud matches the plan")
        if fixed:
            _render(fixed, as_json)
    if fixed is not None:
        _finish(fixed)
    elif found:
        raise typer.Exit(int(Exit.PARTIAL))


# --- lifecycle: 申请 → approved → 使用 → 撤销 ---------------------------------------------------------

ByOpt = Annotated[str | None, typer.Option("--by", help="Who acts (default: the login name).")]
NoteOpt = Annotated[str, typer.Option("--note", help="Why, for the record.")]


@contextmanager
def _lifecycle(ctx: typer.Context, as_json: bool) -> Iterator[Any]:
    from cloud.lifecycle import Lifecycle, LifecycleError

    try:
        yield Lifecycle(state(ctx).settings.cloud.lifecycle)
    except LifecycleError as exc:
        fail(str(exc), Exit.USAGE, as_json)


def _show_request(request: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    data = request.model_dump(mode="json") | (extra or {})
    if as_json:
        emit_json(data)
    else:
        out.print(f"{request.id} {request.tenant} ({request.estate}): {request.state}")


@app.command()
def request(
    ctx: typer.Context,
    estate_path: EstateOpt,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="The tenant, as declared in the estate.")],
    reason: Annotated[str, typer.Option("--reason", help="What the department needs it for.")],
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """申请: record a department's request for its tenant (declared in the estate); it waits for approval."""
    with user_errors(as_json):
        estate = _estate(estate_path, as_json)
        _plan(estate, [tenant], as_json)
        with _lifecycle(ctx, as_json) as lifecycle:
            made = lifecycle.request(tenant, str(estate_path), by or getpass.getuser(), reason)
    _audit(ctx)("request", f"tenant:{estate.name}/{tenant}", {"request": made.id, "reason": reason})
    _show_request(made, as_json)


@app.command()
def approve(
    ctx: typer.Context, request_id: str, by: ByOpt = None, note: NoteOpt = "", as_json: JsonOpt = False
) -> None:
    """Approve a request (not your own)."""
    _show_request(_move(ctx, request_id, "approved", by, note, as_json), as_json)


@app.command()
def reject(
    ctx: typer.Context, request_id: str, by: ByOpt = None, note: NoteOpt = "", as_json: JsonOpt = False
) -> None:
    """Reject a request; it stays on record."""
    _show_request(_move(ctx, request_id, "rejected", by, note, as_json), as_json)


def _move(
    ctx: typer.Context,
    request_id: str,
    to: str,
    by: str | None,
    note: str,
    as_json: bool,
    detail: dict[str, Any] | None = None,
) -> Any:
    from cloud.lifecycle import State

    with _lifecycle(ctx, as_json) as lifecycle:
        moved = lifecycle.move(request_id, State(to), by or getpass.getuser(), note, detail)
    _audit(ctx)(to, f"request:{request_id}", {"tenant": moved.tenant, "note": note, **(detail or {})})
    return moved


@app.command()
def provision(
    ctx: typer.Context,
    request_id: str,
    cloud: CloudOpt = None,
    by: ByOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """使用: apply an approved request's tenant; the request becomes active once nothing failed."""
    with user_errors(as_json), _cloud_errors(as_json), _lifecycle(ctx, as_json) as lifecycle:
        found = lifecycle.get(request_id)
        if found.state != "approved":
            fail(
                f"{request_id} is {found.state}: only an approved request is provisioned", Exit.USAGE, as_json
            )
        estate = _estate(Path(found.estate), as_json)
        desired = _plan(estate, [found.tenant], as_json)
        _refuse_violations(estate, desired, as_json)
        if not yes:
            _confirm(f"provision {found.tenant}?", as_json)
        with _progress(len(desired.resources), "provisioning", as_json) as advance:
            report = _reconciler(ctx, desired, cloud, advance).apply()
    if not report.failed:
        counts = report.as_dict()
        _move(
            ctx,
            request_id,
            "active",
            by,
            "provisioned",
            as_json,
            {"created": counts["created"], "updated": counts["updated"]},
        )
    _render(report, as_json)
    _finish(report)


@app.command()
def revoke(
    ctx: typer.Context,
    request_id: str,
    cloud: CloudOpt = None,
    by: ByOpt = None,
    note: NoteOpt = "",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really reclaim (default: a dry run).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """撤销: reclaim an active tenant's resources and close its request; the record is kept."""
    with user_errors(as_json), _cloud_errors(as_json), _lifecycle(ctx, as_json) as lifecycle:
        found = lifecycle.get(request_id)
        if found.state not in ("approved", "active"):
            fail(f"{request_id} is {found.state}: nothing to revoke", Exit.USAGE, as_json)
        estate = _estate(Path(found.estate), as_json)
        desired = _plan(estate, [found.tenant], as_json)
        keep = [r.key for r in desired.resources if r.tenant != found.tenant]
        with _progress(len(desired.resources), "reclaiming", as_json) as advance:
            report = _reconciler(ctx, desired, cloud, advance).destroy(dry_run=not yes, keep=keep)
    if yes and not report.failed:
        _move(ctx, request_id, "revoked", by, note, as_json, {"deleted": report.as_dict()["deleted"]})
    _render(report, as_json)
    _finish(report)


@app.command()
def requests(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every tenant request with its state and history."""
    with user_errors(as_json), _lifecycle(ctx, as_json) as lifecycle:
        found = lifecycle.requests()
    if as_json:
        emit_json([r.model_dump(mode="json") for r in found])
        return
    table = Table("id", "tenant", "estate", "state", "requested by", "last change")
    for r in found:
        table.add_row(r.id, r.tenant, r.estate, str(r.state), r.requested_by, r.history[-1].at)
    out.print(table)


@app.command()
def usage(
    ctx: typer.Context,
    estate_path: EstateOpt,
    cloud: Annotated[
        str | None, typer.Option("--cloud", help="Also read live usage from this cloud.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Usage per tenant and pool (quota, allocated, actual where reported) against the plans' targets."""
    from cloud.sdk import connect
    from cloud.usage import measure

    with user_errors(as_json), _cloud_errors(as_json):
        estate = _estate(estate_path, as_json)
        conn = connect(_cloud_name(ctx, cloud)) if cloud else None
        report = measure(estate, conn)
    data = report.as_dict()
    if as_json:
        emit_json(data)
        return
    table = Table("indicator", "target", "due", "actual", "met", title=f"{estate.city} targets")
    for i in data["indicators"]:
        actual = "not measured" if i["actual"] is None else f"{i['actual']:g}"
        table.add_row(
            i["indicator"],
            f"{i['target']:g}",
            i["due"],
            actual,
            {True: "yes", False: "no"}.get(i["met"], "-"),
        )
    out.print(table)
    for pool in data["pools"]:
        out.print(f"pool {pool['pool']}: {pool['vcpu_allocated']:g} of {pool['vcpu']} vCPU allocated")
    if data["idle"]:
        out.print(f"idle tenants (<10% of quota in use): {', '.join(data['idle'])}")
