"""`egovops range up|status|down`: the drill range (issue 7) — router, WAF-fronted web app, SSH host,
attacker and sensors in network namespaces. The extranet's FRR test bed is `egovops net range`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from egovops.cli.common import Exit, JsonOpt, emit_json, fail, out, terminated_as_exit

if TYPE_CHECKING:
    from secops.drills.range import Range

app = typer.Typer(help="The drill range (网络安全仿真靶场): build it, inspect it, take it down.",
                  no_args_is_help=True)  # fmt: skip

DirOpt = Annotated[Path, typer.Option("--dir", help="The range's work directory (state, logs, captures).")]
DEFAULT_DIR = Path("var/range")


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    from secops.drills.range import DescriptionError, RangeError

    try:
        yield
    except DescriptionError as exc:
        fail(str(exc), Exit.INPUT, as_json)
    except RangeError as exc:
        fail(str(exc), Exit.CONFIG, as_json)


@app.command("up")
def range_up(
    description: Annotated[
        Path | None, typer.Option("--description", help="Range description (default: the shipped one).")
    ] = None,
    directory: DirOpt = DEFAULT_DIR,
    prefix: Annotated[str, typer.Option(help="Namespace name prefix.")] = "egv-drill",
    as_json: JsonOpt = False,
) -> None:
    """Build the range; on failure everything made is removed again."""
    from secops.drills.range import SHIPPED, up

    with _errors(as_json), terminated_as_exit():
        rng = up(description or SHIPPED, directory, prefix)
    _show(rng, as_json)


@app.command("status")
def range_status(directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Hosts, addresses, processes (alive or not) and sensors; exit 1 when a process has died."""
    from secops.drills.range import Range

    with _errors(as_json):
        rng = Range.load(directory)
    if not _show(rng, as_json):
        raise typer.Exit(int(Exit.PARTIAL))


@app.command("down")
def range_down(directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Stop the range's processes by PID; remove its namespaces, user, audit rules and files."""
    from secops.drills.range import Range, down

    with _errors(as_json):
        rng = Range.load(directory)
        down(rng)
    if as_json:
        emit_json({"removed": {"namespaces": rng.namespaces, "audit_rules": len(rng.audit.rules),
                               "user": rng.user, "dir": str(rng.root)}})  # fmt: skip
    else:
        out.print(f"removed {len(rng.namespaces)} namespaces, {len(rng.audit.rules)} audit rules, "
                  f"user {rng.user or '-'}, {rng.root}")  # fmt: skip


def _show(rng: Range, as_json: bool) -> bool:
    """Print the status; True when every process is alive."""
    status = rng.status()
    groups: list[dict[str, Any]] = [*status["hosts"].values(), *status["segments"].values()]
    processes = [p for g in groups for p in g["processes"].values()] + list(status["local"].values())
    healthy = all(p["alive"] for p in processes)
    if as_json:
        emit_json({**status, "healthy": healthy})
        return healthy
    for name, host in status["hosts"].items():
        addresses = ", ".join(a for pair in host["addresses"].values() for a in pair)
        procs = host["processes"].items()
        running = " ".join(p + ("" if s["alive"] else " [red](dead)[/]") for p, s in procs)
        out.print(f"{name:9} {host['namespace']:24} {addresses:40} {running}")
    for sensor in status["sensors"]:
        out.print(f"sensor {sensor['name']:5} {sensor['format']:12} {sensor['path']}")
    out.print(f"web {status['web_url']}")
    return healthy
