"""`egovops`: one command line for the whole control plane.

Each subcommand is thin: it reads options, calls a module's public functions and renders the result as a
table or, with `--json`, as one JSON document.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from egovops.cli import common
from egovops.cli.common import (
    EXIT_HELP,
    AppState,
    Exit,
    JsonOpt,
    StoreOpt,
    emit_json,
    open_configured_store,
    open_detector,
    progress_wanted,
    state,
    user_errors,
)
from egovops.config import Settings
from secops import sources
from secops.ingest.pipeline import IngestOptions, Ingestor, IngestReport, expand
from secops.sources.base import SourceOptions

if TYPE_CHECKING:
    from typer._click import Command, Context  # typer 0.2x vendors click; its types live here


_LAZY_GROUPS = {
    "events": "egovops.cli.events",
    "rules": "egovops.cli.rules",
    "alerts": "egovops.cli.alerts",
    "incidents": "egovops.cli.incidents",
    "hunt": "egovops.cli.hunt",
    "respond": "egovops.cli.respond",
    "tenant": "egovops.cli.tenant",
    "estate": "egovops.cli.estate",
    "net": "egovops.cli.net",
    "range": "egovops.cli.range",
    "compliance": "egovops.cli.compliance",
    "users": "egovops.cli.users",
    "tokens": "egovops.cli.tokens",
    "audit": "egovops.cli.audit",
    "secrets": "egovops.cli.secrets",
    "exporter": "egovops.cli.exporter",
    "indicators": "egovops.cli.indicators",
    "bulletin": "egovops.cli.bulletin",
    "drill": "egovops.cli.drill",
}
"""Command groups imported when used: they pull in pySigma and SQLAlchemy, which `ingest` does not need,
and typer builds a group's commands only when it is run."""


class _LazyGroup(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_GROUPS])

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        module = _LAZY_GROUPS.get(cmd_name)
        if module is None:
            return super().get_command(ctx, cmd_name)
        command = typer.main.get_command(importlib.import_module(module).app)
        command.name = cmd_name
        return command


app = typer.Typer(
    cls=_LazyGroup,
    name="egovops",
    help=(
        "egovops — the control plane of a city's gov cloud node, e-gov extranet and SOC.\n\n"
        "Start with `egovops ingest LOGS...` to load Suricata, pcap, ModSecurity, auditd or sshd logs, "
        "then `egovops events search` / `stats`. `egovops serve` runs the console and follows ./var/inbox/. "
        "Every command takes --json for scripts. " + EXIT_HELP
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Configuration file (default: ./egovops.toml if present)."),
    ] = None,
) -> None:
    ctx.obj = AppState(config_path=config)


def ingest_options(settings: Settings, keep_original: bool | None) -> IngestOptions:
    return IngestOptions(
        keep_original=settings.ingest.keep_original if keep_original is None else keep_original,
        batch_size=settings.ingest.batch_size,
        observer=settings.ingest.observer,
        source_options=SourceOptions(timezone=settings.ingest.timezone),
    )


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Files, directories, or - for standard input.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="suricata, pcap, modsecurity, auditd or auth (default: detect)."),
    ] = None,
    store_url: StoreOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep reading as files grow, across rotation and truncation.")
    ] = False,
    original: Annotated[
        bool | None, typer.Option("--original/--no-original", help="Keep the raw record as event.original.")
    ] = None,
    detect: Annotated[
        bool | None,
        typer.Option("--detect/--no-detect", help="Run the rules on what is stored (default: on)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Read logs into the store: parse, normalise to ECS, deduplicate, dead-letter what cannot be read,
    and run the detection rules on what was stored (alerts and incidents, as `serve` does).

    Ingesting the same data again stores nothing twice. Prints accepted / duplicates / rejected counts.
    """
    with user_errors(as_json):
        settings = state(ctx).settings
        if fmt is not None:
            sources.source_class(fmt)
        store = open_configured_store(settings, store_url)
        detector = None
        if settings.detection.enabled if detect is None else detect:
            # --follow keeps windows across restarts like `serve`; a one-off run closes them at the end.
            detector = open_detector(settings, store.url, keep_state=follow)
            if detector.warning:
                common.err.print(f"[yellow]warning:[/] {detector.warning}")
        ingestor = Ingestor(
            store, ingest_options(settings, original), detector.observe if detector else None
        )
        try:
            if follow:
                report = run_follower(ingestor, [Path(p) for p in paths], fmt, settings, as_json)
            else:
                report = run_ingest(ingestor, paths, fmt, as_json)
            if detector is not None:
                detector.finish(final=not follow)
        finally:
            store.close()
            if detector is not None:
                detector.cases.close()
    result = report.as_dict()
    if detector is not None:
        result["alerts"] = len(detector.alert_ids)
        result["incidents"] = sorted(detector.incidents)
    if as_json:
        emit_json(result)
    else:
        render_report(report)
        if detector is not None:
            alerts, incidents = len(detector.alert_ids), len(detector.incidents)
            common.out.print(f"detection: {alerts} alerts, {incidents} incidents touched "
                             "(`egovops alerts list`, `egovops incidents list`)")
    if report.errors:
        raise typer.Exit(int(Exit.INPUT))
    if report.rejected:
        raise typer.Exit(int(Exit.PARTIAL))


def run_ingest(ingestor: Ingestor, paths: list[str], fmt: str | None, as_json: bool) -> IngestReport:
    if not progress_wanted(as_json) or "-" in paths:
        return ingestor.run(paths, fmt)
    # imported here: a scripted (--json) run shows no bar and does not pay for rich's live display
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    total = sum(Path(p).stat().st_size for p in expand(paths) if Path(p).is_file())
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress("[progress.description]{task.description}", *columns, transient=True) as bar:
        task = bar.add_task("ingesting", total=total)
        return ingestor.run(paths, fmt, progress=lambda n: bar.advance(task, n))


def run_follower(
    ingestor: Ingestor, paths: list[Path], fmt: str | None, settings: Settings, as_json: bool
) -> IngestReport:
    from secops.ingest.follow import Follower

    follower = Follower(
        ingestor, paths, fmt,
        poll_interval=settings.ingest.poll_interval, idle_flush=settings.ingest.idle_flush,
    )
    stop = threading.Event()
    if not as_json:
        common.out.print(f"following {', '.join(map(str, paths))} — Ctrl-C to stop")
    try:
        follower.run(stop)
    except KeyboardInterrupt:
        follower.poll_once()
        follower.close()
    return follower.report


def render_report(report: IngestReport) -> None:
    from rich.table import Table

    table = Table(title="ingest", show_header=True)
    columns = ("accepted", "duplicates", "rejected", "spooled", "inputs")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(report, c)) for c in columns))
    common.out.print(table)
    for dataset, count in sorted(report.per_dataset.items()):
        common.out.print(f"  {dataset}: {count} events")
    for message in report.errors:
        common.out.print(f"[red]error:[/] {message}")
    if report.rejected:
        common.out.print("rejected records are kept: `egovops events rejected` lists them with the reason")


@app.command("formats")
def list_formats(as_json: JsonOpt = False) -> None:
    """The log formats egovops reads, with the dataset each produces."""
    rows = []
    for name in sources.formats():
        cls = sources.source_class(name)
        rows.append({"format": name, "dataset": cls.dataset, "description": cls.description})
    if as_json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("format", "dataset", "description")
    for row in rows:
        table.add_row(row["format"], row["dataset"], row["description"])
    common.out.print(table)


@app.command()
def config(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the settings in force (defaults, then egovops.toml, then EGOVOPS_* variables)."""
    with user_errors(as_json):
        settings = state(ctx).settings
    data = settings.model_dump(mode="json")
    if as_json:
        emit_json(data)
        return
    for section, values in data.items():
        common.out.print(f"[bold][{section}][/]")
        for key, value in values.items():
            common.out.print(f"{key} = {value!r}")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
    store_url: StoreOpt = None,
    inbox: Annotated[Path | None, typer.Option(help="Directory to follow (default ./var/inbox).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the control plane: the web console and API, and ingestion of whatever lands in the inbox."""
    from egovops.web.server import run_server

    with user_errors(as_json):
        settings = state(ctx).settings
        run_server(
            settings,
            host=host or settings.serve.host,
            port=settings.serve.port if port is None else port,
            store_url=store_url,
            inbox=inbox or settings.ingest.inbox,
            ingest_options=ingest_options(settings, None),
            as_json=as_json,
        )


def main() -> None:
    app()
