"""What every command shares: options, settings, output as text or JSON, and exit codes scripts can trust."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer

from egovops.config import ConfigError, Settings, load
from secops.ingest.pipeline import InputError
from secops.sources import UnknownFormat
from secops.store import Store, StoreError, open_store

if TYPE_CHECKING:
    from rich.console import Console

    from secops.detection.detector import Detector


class Exit(IntEnum):
    """Exit codes. 0: done; 1: done, but some input was refused; 2: bad usage; 3: bad configuration;
    4: the store could not be used; 5: an input could not be read."""

    OK = 0
    PARTIAL = 1
    USAGE = 2
    CONFIG = 3
    STORE = 4
    INPUT = 5


EXIT_HELP = (
    "Exit codes: 0 done; 1 done but some input was refused; 2 bad usage; 3 bad configuration; "
    "4 store unusable; 5 input unreadable."
)


@cache
def console(*, stderr: bool) -> Console:
    """The console text output goes to, made at first use: importing rich is about 65 ms of a
    command's start, which a scripted (`--json`) run never needs."""
    from rich.console import Console

    return Console(stderr=True, highlight=False) if stderr else Console(highlight=False, soft_wrap=True)


def __getattr__(name: str) -> Console:
    """`out` and `err`: the consoles for standard output and standard error (PEP 562)."""
    if name in ("out", "err"):
        return console(stderr=name == "err")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", metavar="URL", help="sqlite:///PATH or elasticsearch://HOST:PORT (default: config)."
    ),
]


@dataclass
class AppState:
    config_path: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load(self.config_path)
        return self._settings


def state(ctx: typer.Context) -> AppState:
    found = ctx.find_object(AppState)
    if found is None:
        found = ctx.ensure_object(AppState)
    return found


def open_configured_store(settings: Settings, url: str | None) -> Store:
    return open_store(
        url or settings.store.url,
        spool_dir=settings.store.spool_dir,
        index_prefix=settings.store.index_prefix,
    )


def emit_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    sys.stdout.write("\n")
    sys.stdout.flush()


def fail(message: str, code: Exit, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"error": message, "exit_code": int(code)})
    else:
        console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(int(code))


@contextmanager
def user_errors(as_json: bool) -> Iterator[None]:
    """Turn the errors a user can act on into one clear line and an exit code; no tracebacks."""
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), Exit.CONFIG, as_json)
    except StoreError as exc:
        fail(str(exc), Exit.STORE, as_json)
    except (InputError, UnknownFormat) as exc:
        fail(str(exc), Exit.INPUT, as_json)


@contextmanager
def terminated_as_exit() -> Iterator[None]:
    """SIGTERM (`kill`, a CI job's timeout, a service manager) unwinds like Ctrl-C while the block runs,
    so its `finally` clauses still take down what the command built (namespaces, processes, blocks)."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str | None, now: datetime | None = None) -> datetime | None:
    """`30d`, `12h`, `90m` (that long ago), or an ISO date/time (UTC when no zone is given)."""
    if text is None:
        return None
    match = _SPAN.match(text.strip())
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: use a span like 30d, 12h, 15m or an ISO time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_fields(pairs: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(
                f"{pair!r}: use NAME=VALUE with a dotted ECS name, e.g. source.ip=1.2.3.4"
            )
        fields[name.strip()] = value
    return fields


def progress_wanted(as_json: bool) -> bool:
    return not as_json and console(stderr=True).is_terminal



def open_detector(settings: Settings, store_url: str, *, keep_state: bool) -> Detector:
    """The rules (built-in pack plus configured paths) with the case store that goes with `store_url`.

    `keep_state`: restore and save the engine's windows (`serve`, `ingest --follow`), so a restart in
    the middle of a brute force still fires; a one-off ingest starts afresh and closes them at the end.
    """
    from secops.detection.detector import Detector
    from secops.detection.engine import EngineOptions
    from secops.detection.ruleset import BUILTIN_RULES, RuleSet
    from secops.incidents.cases import open_cases

    ruleset = RuleSet.load([BUILTIN_RULES, *settings.detection.rules])
    cases = open_cases(store_url, settings=settings.incidents)
    options = EngineOptions(lateness=settings.detection.lateness)
    state_path = settings.detection.state if keep_state else None
    return Detector(ruleset, cases, options=options, state_path=state_path)
