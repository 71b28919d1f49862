"""The console's Jinja2 environment: autoescaping on for every template, whatever its name, and filters
that show attacker-written text literally (control characters made visible, not interpreted)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request

from egovops.web.i18n import Translator
from secops.events import format_ts

TEMPLATES = Path(__file__).with_name("templates")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(value: object) -> str:
    """Text with control characters shown as `\\x1b` and the like: a terminal escape in a log line is
    displayed as what it is instead of being passed to whoever copies it into a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", "" if value is None else str(value))


def when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    text = format_ts(value) if isinstance(value, datetime) else str(value)
    return text[:19].replace("T", " ")


def pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, auto_reload=False
    )
    env.filters.update(visible=visible, when=when, pretty_json=pretty_json)
    return env


def url_with(request: Request, **changes: object) -> str:
    """This page's path and query with some parameters replaced (None drops one), for page links."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    added = [(k, str(v)) for k, v in changes.items() if v is not None]
    query = urlencode(kept + added)
    return request.url.path + (f"?{query}" if query else "")


def render(env: Environment, name: str, translate: Translator, context: Mapping[str, Any]) -> str:
    return env.get_template(name).render({**context, "_": translate, "lang": translate.language})
