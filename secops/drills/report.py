"""A scorecard exported for people (HTML, self-contained) and for programs (JSON, the `drill run --json`
document)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from secops.drills.scorecard import Scorecard


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("secops.drills", "templates"),
        autoescape=select_autoescape(["j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def as_json(card: Scorecard) -> str:
    return card.model_dump_json(indent=2)


def as_html(card: Scorecard) -> str:
    """Everything an exercise review needs on one page; attacker-controlled text is escaped."""
    return _environment().get_template("scorecard.html.j2").render(card=card)
