"""`egovops drill …`: attack-defence drills (攻防演练) on the cyber range, scored through the real SOC
pipeline; scorecards kept, compared across runs and exported."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from egovops.cli.common import (
    Exit,
    JsonOpt,
    emit_json,
    err,
    fail,
    out,
    progress_wanted,
    state,
    terminated_as_exit,
    user_errors,
)
from egovops.cli.recovery import recovery
from secops.drills.history import History, HistoryError
from secops.drills.report import as_html, as_json
from secops.drills.runner import Drill, DrillError
from secops.drills.scenario import ScenarioError, Step, find_scenario, scenario_names
from secops.drills.scorecard import Scorecard, StepOutcome

app = typer.Typer(help="Run attack-defence drills on the cyber range and keep their scorecards.",
                  no_args_is_help=True)  # fmt: skip
app.command("recovery")(recovery)


@contextmanager
def drill_errors(as_json: bool) -> Iterator[None]:
    from secops.drills.range import DescriptionError, RangeError

    with user_errors(as_json):
        try:
            yield
        except ScenarioError as exc:
            fail(str(exc), Exit.INPUT, as_json)
        except DescriptionError as exc:
            fail(str(exc), Exit.INPUT, as_json)  # as `egovops range` reports them
        except RangeError as exc:
            fail(str(exc), Exit.CONFIG, as_json)
        except (DrillError, HistoryError) as exc:
            fail(str(exc), Exit.USAGE, as_json)


@app.command("list")
def list_scenarios(as_json: JsonOpt = False) -> None:
    """The scenarios that ship with egovops (secops/drills/scenarios/)."""
    names = scenario_names()
    if as_json:
        emit_json(names)
        return
    table = Table("scenario", "steps", "description")
    with drill_errors(as_json):
        for name in names:
            scenario = find_scenario(name)
            table.add_row(name, str(len(scenario.steps)), scenario.description.strip())
    out.print(table)


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A shipped scenario (`egovops drill list`) or a YAML file.")],
    range_dir: Annotated[
        Path | None, typer.Option("--range-dir", help="The running range's directory (default: config).")
    ] = None,
    up: Annotated[
        bool, typer.Option("--up", help="Bring a range up for this drill and always take it down after.")
    ] = False,
    description: Annotated[
        Path | None, typer.Option("--description", help="Range description for --up (default: shipped).")
    ] = None,
    prefix: Annotated[str, typer.Option(help="Namespace name prefix of the range --up makes.")] = "egv-drill",
    as_json: JsonOpt = False,
) -> None:
    """Run a scenario through the SOC pipeline and print its scorecard (also stored in the history).

    Needs a running range (`egovops range up`), or --up to make one for the drill. Exits 1 when an
    expected detection was missed or something raised a false positive, so a script can gate on it.
    """
    from secops.drills import range as cyber_range

    with drill_errors(as_json), terminated_as_exit():
        settings = state(ctx).settings
        scenario = find_scenario(name)
        root = range_dir or settings.drills.range_dir
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        work = settings.drills.work_dir / f"{scenario.name}-{stamp}"
        if up:
            with cyber_range.running(description or cyber_range.SHIPPED, root, prefix) as rng:
                card = drill(Drill(scenario, rng, settings, work), as_json)
        else:
            card = drill(Drill(scenario, cyber_range.Range.load(root), settings, work), as_json)
        with History(settings.drills.history) as history:
            card = history.add(card)
    if as_json:
        emit_json(card.model_dump(mode="json"))
    else:
        render(card)
    if card.false_positives or any(step.expected and not step.detected for step in card.steps):
        raise typer.Exit(int(Exit.PARTIAL))


def drill(runner: Drill, as_json: bool) -> Scorecard:
    """Run it, with live progress on the terminal (none with --json)."""
    if not progress_wanted(as_json):
        return runner.run()
    name = runner.scenario.name
    with err.status(f"drill {name}: starting the pipeline") as status:

        def show(event: str, step: Step, outcome: StepOutcome | None) -> None:
            step_id = step.id
            if event == "started":
                status.update(f"drill {name}: {step_id} — attacking")
            elif event == "acted":
                status.update(f"drill {name}: {step_id} — waiting for detections")
            elif outcome is not None:
                found = ", ".join(f"{r} {t:.1f}s" for r, t in outcome.detections.items()) or "nothing"
                missing = [r for r in outcome.expected if r not in outcome.detections]
                mark = "[red]missed[/]" if missing or not outcome.expected else "[green]detected[/]"
                lacking = f"; missing {', '.join(missing)}" if missing else ""
                err.print(f"{step_id}: {mark} — {found}{lacking}")

        runner.listener = show
        return runner.run()


def render(card: Scorecard) -> None:
    table = Table("step", "technique", "expected", "result", "blocked", "detect (s)", title=card.scenario)
    for step in card.steps:
        result = "[green]detected[/]" if step.detected else "[red]missed[/]"
        ttd = "—" if step.time_to_detect_s is None else f"{step.time_to_detect_s:.1f}"
        table.add_row(step.id, step.technique, ", ".join(step.expected) or "—", result,
                      "yes" if step.blocked else "no", ttd)  # fmt: skip
    out.print(table)
    for step in card.steps:
        for gap in step.gaps:
            seen = ", ".join(f"{d}={n}" for d, n in gap.events.items())
            out.print(f"gap {step.id}: {gap.rule or 'no rule'} {gap.note} (saw {seen}; fired "
                      f"{', '.join(gap.fired) or 'nothing'})")  # fmt: skip
        if step.response:
            out.print(f"response {step.id}: {step.response} ({step.time_to_respond_s or '—'} s)")
    for fp in card.false_positives:
        out.print(f"[yellow]false positive:[/] {fp.rule} ({fp.severity}) {fp.title}")
    out.print(f"run {card.id}: coverage {card.coverage:.0%}, blue {card.blue}, red {card.red}, "
              f"score {card.score} (`egovops drill show {card.id} --format html -o FILE`)")  # fmt: skip


@app.command()
def history(
    ctx: typer.Context,
    scenario: Annotated[str | None, typer.Option("--scenario", help="Only this scenario's runs.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Past drills, each with its score and coverage change against the scenario's previous run."""
    with drill_errors(as_json), History(state(ctx).settings.drills.history) as store:
        runs = store.runs(scenario)
    if as_json:
        emit_json([r.model_dump(mode="json") for r in runs])
        return
    table = Table("id", "scenario", "started", "score", "Δ score", "coverage", "Δ coverage", "false pos.")
    for r in runs:
        table.add_row(
            str(r.id), r.scenario, r.started.isoformat(timespec="seconds"), str(r.score),
            "—" if r.score_delta is None else f"{r.score_delta:+d}", f"{r.coverage:.0%}",
            "—" if r.coverage_delta is None else f"{r.coverage_delta:+.0%}", str(r.false_positives),
        )
    out.print(table)


@app.command()
def show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="ID", help="A run id from `egovops drill history`.")],
    fmt: Annotated[str, typer.Option("--format", help="html or json.")] = "json",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (default: stdout).")] = (
        None
    ),
) -> None:
    """Export a stored scorecard as HTML (for the exercise review) or JSON."""
    if fmt not in {"html", "json"}:
        raise typer.BadParameter(f"{fmt!r}: use html or json", param_hint="--format")
    with drill_errors(False), History(state(ctx).settings.drills.history) as store:
        card = store.get(run_id)
    text = as_html(card) if fmt == "html" else as_json(card)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    output.write_text(text, encoding="utf-8")
    err.print(f"wrote {output}")
