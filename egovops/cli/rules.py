"""`egovops rules …`: list, check and test Sigma rules (the built-in pack by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from egovops.cli.common import Exit, JsonOpt, emit_json, fail, out
from secops.detection.fixtures import run_fixtures
from secops.detection.ruleset import BUILTIN_RULES, RuleSet, check, correlation_view

app = typer.Typer(
    help="Sigma rules: list what loads, check every rule loads (or why not), run rule fixtures.",
    no_args_is_help=True,
)

PathsArg = Annotated[
    list[Path] | None,
    typer.Argument(help="Rule files or directories (default: the built-in pack).", show_default=False),
]
VarOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--var",
        metavar="NAME=VALUE",
        help="Value for a %NAME% placeholder of |expand rules; repeat to give several.",
    ),
]


def _paths(paths: list[Path] | None, as_json: bool) -> list[Path]:
    chosen = paths or [BUILTIN_RULES]
    for path in chosen:
        if not path.exists():
            fail(f"{path}: no such file or directory", Exit.INPUT, as_json)
    return chosen


def _variables(pairs: list[str] | None, as_json: bool) -> dict[str, list[str]]:
    variables: dict[str, list[str]] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"--var {pair!r}: use NAME=VALUE, e.g. --var webroots=/srv/site/*", Exit.USAGE, as_json)
        variables.setdefault(name.strip(), []).append(value)
    return variables


@app.command("list")
def list_rules(paths: PathsArg = None, var: VarOpt = None, as_json: JsonOpt = False) -> None:
    """The rules that load: id, name, level, log source, datasets and ATT&CK tags; then correlations."""
    ruleset = RuleSet.load(_paths(paths, as_json), _variables(var, as_json))
    rows = [
        {
            "id": r.ref.id,
            "name": r.ref.name,
            "title": r.ref.title,
            "level": r.ref.level,
            "logsource": r.logsource,
            "datasets": list(r.datasets),
            "tags": list(r.ref.tags),
            "path": r.ref.path,
        }
        for r in ruleset.rules
    ]
    correlations = [correlation_view(c) for c in ruleset.correlations]
    if as_json:
        emit_json({"rules": rows, "correlations": correlations, "failed": len(ruleset.failed)})
        return
    table = Table("name", "level", "logsource", "datasets", "tags", "title", title=f"{len(rows)} rules")
    for rule in ruleset.rules:
        techniques = ", ".join(t for t in rule.ref.tags if t.startswith("attack.t"))
        table.add_row(
            rule.ref.name or rule.ref.id,
            rule.ref.level,
            rule.logsource,
            ", ".join(rule.datasets),
            techniques,
            rule.ref.title,
        )
    out.print(table)
    if ruleset.correlations:
        corr = Table("name", "type", "rules", "title", title=f"{len(correlations)} correlations")
        for item in correlations:
            name = item["name"] or str(item["id"])
            corr.add_row(name, item["type"], ", ".join(item["rules"]), item["title"])
        out.print(corr)
    if ruleset.failed:
        out.print(f"{len(ruleset.failed)} rules did not load: `egovops rules check` says why")


@app.command("check")
def check_rules(paths: PathsArg = None, var: VarOpt = None, as_json: JsonOpt = False) -> None:
    """Load every rule; report each that cannot load with the exact reason. Exit 1 when any failed."""
    report = check(_paths(paths, as_json), _variables(var, as_json))
    if as_json:
        emit_json(report)
    else:
        out.print(f"loaded: {report['loaded']}  failed: {report['failed']}")
        for row in report["rules"]:
            if row["status"] == "failed":
                out.print(f"[red]FAIL[/] {row['path']}: {row['title'] or '(file)'}: {row['reason']}")
    if report["failed"]:
        raise typer.Exit(int(Exit.PARTIAL))


@app.command("test")
def test_rules(paths: PathsArg = None, var: VarOpt = None, as_json: JsonOpt = False) -> None:
    """Run the fixtures beside the rules (`fixtures/*.yml`): events each rule must and must not match.

    Exit 1 when a fixture fails.
    """
    chosen = _paths(paths, as_json)
    results = run_fixtures(RuleSet.load(chosen, _variables(var, as_json)), chosen)
    failed = [r for r in results if not r.ok]
    if as_json:
        emit_json(
            {"fixtures": len(results), "failed": len(failed), "results": [r.as_dict() for r in results]}
        )
    else:
        for result in results:
            mark = "[green]ok[/]  " if result.ok else "[red]FAIL[/]"
            out.print(f"{mark} {result.rule}: {result.passed} cases passed")
            for failure in result.failures:
                out.print(f"       {failure}")
        out.print(f"{len(results) - len(failed)} of {len(results)} fixtures pass")
    if failed:
        raise typer.Exit(int(Exit.PARTIAL))
