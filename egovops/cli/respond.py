"""`egovops respond …`: response actions (主动防御) for incidents — request with a dry run, approve, undo.

`egovops respond KIND --incident N` requests one of the registered kinds (`waf-block`, `nft-deny`, and
those `[response] modules` add); each kind is a subcommand of its own, built from the registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from egovops.audit import AuditTrail
from egovops.cli.alerts import actor, case_errors, open_case_store
from egovops.cli.common import Exit, JsonOpt, StoreOpt, emit_json, fail, out, state
from egovops.config import ConfigError
from secops.response.action import ActionKind
from secops.response.errors import ActionError, OptionsError
from secops.response.registry import load_kinds
from secops.response.workflow import Responder, action_view

if TYPE_CHECKING:
    from typer._click import Command, Context

AsOpt = Annotated[
    str | None, typer.Option("--as", metavar="USER", help="Who does it (default: the login name).")
]
ActionId = Annotated[int, typer.Argument(help="Action id (see `egovops respond list`).")]


class _KindGroup(TyperGroup):
    """The fixed commands, then one command per registered action kind."""

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(kind.name for kind in _load(ctx))})

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        found = [kind for kind in _load(ctx) if kind.name == cmd_name]
        return _kind_command(found[0]) if found else None


def _load(ctx: Context) -> list[ActionKind[Any, Any]]:
    """Built-in kinds and the configured modules' (built-in only while the configuration is unreadable,
    so `--help` still works; the command itself then reports the configuration error)."""
    try:
        settings = state(ctx).settings.response  # type: ignore[arg-type]  # click's Context is typer's
        return load_kinds(settings.modules)
    except (ConfigError, OptionsError):
        return load_kinds()


app = typer.Typer(
    cls=_KindGroup,
    help="Response actions for incidents: block a source at the WAF or on a firewall, approve, undo.",
    no_args_is_help=True,
)


@contextmanager
def responder(ctx: typer.Context, store_url: str | None, as_json: bool) -> Iterator[Responder]:
    """The case store and audit trail as configured; refusals exit 2, a failed change 1, bad options 3."""
    with case_errors(as_json):
        try:
            settings = state(ctx).settings.response
            with open_case_store(ctx, store_url) as cases:
                yield Responder(cases, AuditTrail(settings.audit_log), settings)
        except OptionsError as exc:
            fail(_plain(str(exc), as_json), Exit.CONFIG, as_json)
        except ActionError as exc:
            message = f"{exc} (the action is recorded; `egovops respond list` shows it)"
            fail(_plain(message, as_json), Exit.PARTIAL, as_json)


def _plain(message: str, as_json: bool) -> str:
    """The message as written: on the terminal, `[response.kinds.X]` is not rich markup."""
    return message if as_json else escape(message)


def _kind_command(kind: ActionKind[Any, Any]) -> Command:
    def request(
        ctx: typer.Context,
        incident: Annotated[int, typer.Option("--incident", help="The incident to act for.")],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show exactly what would change; change nothing.")
        ] = False,
        approve: Annotated[
            bool, typer.Option("--approve", help="Approve the identical request someone else made.")
        ] = False,
        user: AsOpt = None,
        address: Annotated[
            str | None, typer.Option("--address", help="Which source address, if it has several.")
        ] = None,
        store_url: StoreOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        with responder(ctx, store_url, as_json) as respond:
            if dry_run:
                plan = respond.preview(kind.name, incident, address)
                result: dict[str, Any] = {"dry_run": True, "impact": kind.impact.value, **plan.as_dict()}
            else:
                row = respond.request(kind.name, incident, actor(user), approve=approve, address=address)
                result = action_view(row)
        _show(result, as_json)

    request.__doc__ = f"{kind.summary} Impact: {kind.impact.value}" + (
        " (runs once another person approves it)." if kind.impact.value == "high" else " (runs at once)."
    )
    single = typer.Typer(add_completion=False)
    single.command(name=kind.name)(request)
    return typer.main.get_command(single)


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(result)
        return
    if result.get("dry_run"):
        out.print(f"[bold]dry run[/] {result['kind']} ({result['impact']} impact) would:")
        for change in result["changes"]:
            out.print(f"  {change}")
        if result["playbook"]:
            out.print(f"playbook {result['playbook']} with {result['vars']}")
        return
    out.print(_line(result))
    if result["state"] == "pending":
        out.print(f"needs approval by another person: egovops respond approve {result['id']} --as NAME")


def _line(item: dict[str, Any]) -> str:
    approved = f", approved by {item['approved_by']}" if item["approved_by"] else ""
    return (
        f"action {item['id']} {item['kind']} for INC-{item['incident']}: {item['state']} "
        f"(requested by {item['requested_by']}{approved}) {item['params']}"
    )


@app.command("list")
def list_actions(
    ctx: typer.Context,
    incident: Annotated[int | None, typer.Option("--incident", help="Only this incident's.")] = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Response actions, oldest first, with who requested, approved and undid them."""
    with responder(ctx, store_url, as_json) as respond:
        items = [action_view(row) for row in respond.actions(incident)]
    if as_json:
        emit_json(items)
        return
    table = Table("id", "incident", "kind", "state", "requested by", "approved by", "params", title="actions")
    for item in items:
        table.add_row(
            str(item["id"]), str(item["incident"]), item["kind"], item["state"], item["requested_by"],
            item["approved_by"] or "-", str(item["params"]),
        )  # fmt: skip
    out.print(table)


@app.command()
def approve(
    ctx: typer.Context,
    action_id: ActionId,
    user: AsOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a pending high-impact action (not one's own request) and run it."""
    with responder(ctx, store_url, as_json) as respond:
        result = action_view(respond.approve(action_id, actor(user)))
    _show(result, as_json)


@app.command()
def undo(
    ctx: typer.Context,
    action_id: ActionId,
    user: AsOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reverse an executed action (remove the block-list line, delete the nft rule by its handle)."""
    with responder(ctx, store_url, as_json) as respond:
        result = action_view(respond.undo(action_id, actor(user)))
    _show(result, as_json)


@app.command("kinds")
def list_kinds(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The action kinds that can be requested, with their impact."""
    items = [{"kind": k.name, "impact": k.impact.value, "summary": k.summary} for k in _load(ctx)]
    if as_json:
        emit_json(items)
        return
    for item in items:
        out.print(f"{item['kind']} ({item['impact']}): {item['summary']}")
