"""The web console: server-rendered pages for the analyst, the admin and the auditor (docs/console.md)."""

from pathlib import Path

from egovops.web.console.routes import Backends, console_router

CONSOLE_STATIC = Path(__file__).with_name("static")

__all__ = ["CONSOLE_STATIC", "Backends", "console_router"]
