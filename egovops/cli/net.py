"""`egovops net`: plan the extranet's addresses, render device configurations, diff and push them with
netmiko (dry run unless --commit), verify reachability and isolation, and run the test bed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from egovops.cli.common import Exit, JsonOpt, emit_json, fail, out, state

if TYPE_CHECKING:
    from network.estate import Network
    from network.ipam import IpamPlan
    from network.push import Credentials
    from network.testbed import Router

app = typer.Typer(help="The e-gov extranet: IPAM, vendor configurations, safe pushes, verification.",
                  no_args_is_help=True)  # fmt: skip
range_app = typer.Typer(help="The test bed: FRRouting routers in network namespaces, from the estate.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(range_app, name="range")

EstateOpt = Annotated[Path, typer.Option("--estate", help="The estate file (stacks/<city>/estate.yaml).")]
LedgerOpt = Annotated[
    Path | None,
    typer.Option("--ledger", help="Allocations of the last plan: kept, so nothing is renumbered."),
]
BedOpt = Annotated[
    Path | None, typer.Option("--testbed", help="A test bed's directory: its routers' login is used.")
]
PASSWORD_ENV = "EGOVOPS_NET_PASSWORD"


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    from egovops.estate import EstateError
    from network.ipam import IpamError
    from network.testbed import RangeError

    try:
        yield
    except (EstateError, IpamError) as exc:
        fail(str(exc), Exit.INPUT, as_json)
    except RangeError as exc:
        fail(str(exc), Exit.CONFIG, as_json)


def _load(estate: Path, ledger: Path | None) -> tuple[Network, IpamPlan]:
    from network.estate import load_network
    from network.ipam import plan, read_ledger

    net = load_network(estate)
    return net, plan(net, read_ledger(ledger) if ledger else [])


@app.command("plan")
def plan_cmd(
    estate: EstateOpt, ledger: LedgerOpt = None,
    save: Annotated[bool, typer.Option("--save", help="Write the plan back to --ledger.")] = False,
    export: Annotated[Path | None, typer.Option("--export", help="Write to .csv or .json.")] = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Allocate every site's prefixes per plane and family (first fit, reservations honoured, the ledger
    kept) and run the estate checks: bandwidth floors, IPv6, warranties, 政务外网接入率."""
    from network.checks import run_checks
    from network.ipam import write_ledger

    with _errors(as_json):
        net, result = _load(estate, ledger)
        checks = [c.as_dict() for c in run_checks(net)]
    if save:
        if ledger is None:
            fail("--save needs --ledger FILE", Exit.USAGE, as_json)
        write_ledger(ledger, result)
    if export is not None:
        if export.suffix == ".csv":
            export.write_text(result.to_csv(), encoding="utf-8")
        else:
            export.write_bytes(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2))
    if as_json:
        emit_json({**result.as_dict(), "checks": checks})
        return
    for alloc in result.allocations:
        out.print(f"{alloc.plane:8} v{alloc.family} {alloc.role:8} {alloc.owner:30} {alloc.prefix}")
    out.print(f"{len(result.allocations)} prefixes, {len(result.new)} new, {len(result.released)} released")
    for check in checks:
        mark = "ok " if check["ok"] else "[red]FAIL[/]"
        out.print(f"{mark} {check['check']:16} {check['subject']:20} {check['detail']}")


@app.command()
def render(
    estate: EstateOpt, ledger: LedgerOpt = None,
    device: Annotated[list[str] | None, typer.Option("--device", help="Only these devices.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write DEVICE.cfg files here.")] = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Each device's configuration in its vendor's syntax (FRRouting, Cisco IOS, Huawei VRP, H3C Comware)."""
    from network.render import render_all

    with _errors(as_json):
        net, result = _load(estate, ledger)
        configs = {k: v for k, v in render_all(net, result).items() if not device or k in device}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in configs.items():
            (out_dir / f"{name}.cfg").write_text(text, encoding="utf-8")
    if as_json:
        emit_json(configs)
        return
    for name, text in configs.items():
        out.print(f"# --- {name}", markup=False)
        out.print(text, markup=False)


def _credentials(user: str | None, testbed: Path | None, as_json: bool) -> Credentials:
    from network.push import Credentials
    from network.testbed import USER, Range

    if testbed is not None:
        return Credentials(USER, Range.load(testbed).password)
    password = os.environ.get(PASSWORD_ENV)
    if user is None or password is None:
        fail(f"give --user and the password in ${PASSWORD_ENV} (or --testbed DIR)", Exit.USAGE, as_json)
    return Credentials(user, password)


def _push(ctx: typer.Context, estate: Path, ledger: Path | None, user: str | None, testbed: Path | None,
          commit: bool, workers: int, as_json: bool) -> None:  # fmt: skip
    from egovops.audit import AuditTrail
    from network.push import PushOptions, push

    with _errors(as_json):
        net, result = _load(estate, ledger)
        creds = _credentials(user, testbed, as_json)
        audit = AuditTrail(state(ctx).settings.response.audit_log)
        actor = os.environ.get("USER", "egovops")
        results = push(net, result, creds, PushOptions(commit=commit, workers=workers, actor=actor), audit)
    if as_json:
        emit_json([r.as_dict() for r in results])
    else:
        for r in results:
            status = "FAILED" if r.failed else ("changed" if r.changed else "unchanged")
            out.print(f"[bold]{r.device}[/]: {status}{' (rolled back)' if r.rolled_back else ''}"
                      f"{' — ' + r.error if r.error else ''}")  # fmt: skip
            if r.diff:
                out.print(r.diff, markup=False)
    if any(r.failed for r in results):
        raise typer.Exit(int(Exit.PARTIAL))


UserOpt = Annotated[str | None, typer.Option("--user", help="Login name on the devices.")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, max=64, help="Devices worked on at once.")]


@app.command()
def diff(ctx: typer.Context, estate: EstateOpt, ledger: LedgerOpt = None, user: UserOpt = None,
         testbed: BedOpt = None, workers: WorkersOpt = 8, as_json: JsonOpt = False) -> None:  # fmt: skip
    """The running configuration of each device (fetched with netmiko) against the rendered one."""
    _push(ctx, estate, ledger, user, testbed, False, workers, as_json)


@app.command("push")
def push_cmd(
    ctx: typer.Context, estate: EstateOpt, ledger: LedgerOpt = None, user: UserOpt = None,
    testbed: BedOpt = None, workers: WorkersOpt = 8,
    commit: Annotated[bool, typer.Option("--commit", help="Apply (default: dry run).")] = False,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Push the rendered configurations; a device that fails its post-checks is rolled back. Exit 1 when
    any device failed. Every device's outcome goes to the audit trail with its diff."""
    _push(ctx, estate, ledger, user, testbed, commit, workers, as_json)


@app.command()
def verify(estate: EstateOpt, testbed: Annotated[Path, typer.Option("--testbed")], ledger: LedgerOpt = None,
           as_json: JsonOpt = False) -> None:  # fmt: skip
    """Ping between the sites of each plane (IPv4, IPv6) and across planes that must be isolated."""
    from network.testbed import Range
    from network.verify import verify as run_verify

    with _errors(as_json):
        net, result = _load(estate, ledger)
        checks = run_verify(net, result, Range.load(testbed))
    if as_json:
        emit_json({"checks": checks, "ok": all(c["ok"] for c in checks)})
    else:
        for c in checks:
            mark = "ok " if c["ok"] else "[red]FAIL[/]"
            out.print(
                f"{mark} {c['check']:12} {c['plane']:6} v{c['family']} {c['from']} -> {c['to']} "
                f"({c['to_site']})"
            )
    if not all(c["ok"] for c in checks):
        raise typer.Exit(int(Exit.PARTIAL))


@range_app.command("up")
def range_up(estate: EstateOpt, directory: Annotated[Path, typer.Option("--dir")],
             prefix: Annotated[str, typer.Option(help="Namespace name prefix.")] = "egv-range",
             as_json: JsonOpt = False) -> None:  # fmt: skip
    """Build the test bed; on failure everything made is removed again."""
    from network.estate import load_network
    from network.testbed import up

    with _errors(as_json):
        bed = up(load_network(estate), directory, prefix)
    _show(bed.routers, as_json)


@range_app.command("status")
def range_status(directory: Annotated[Path, typer.Option("--dir")], as_json: JsonOpt = False) -> None:
    from network.testbed import Range

    _show(Range.load(directory).routers, as_json)


@range_app.command("down")
def range_down(directory: Annotated[Path, typer.Option("--dir")], as_json: JsonOpt = False) -> None:
    """Stop every process of the test bed by PID and remove its namespaces, bridge and files."""
    from network.testbed import Range, down

    bed = Range.load(directory)
    down(bed)
    if as_json:
        emit_json({"removed": sorted(bed.routers)})


def _show(routers: dict[str, Router], as_json: bool) -> None:
    from dataclasses import asdict

    rows = [asdict(r) for r in routers.values()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        out.print(f"{row['device']:16} {row['netns']:16} {row['management']}")
