"""Console strings: Chinese by default, English on request, all through one gettext-like function.

As with gettext, a message id is the text in the source language (Chinese here); `messages/en.json`
maps each id to English. An id missing from a catalogue shows the Chinese, and a test keeps the English
catalogue complete. Catalogues are data, so a translator edits JSON, never code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "lang"
"""The cookie the language switch sets; a preference, not a credential."""
MESSAGES = Path(__file__).with_name("messages")


@cache
def catalogue(language: str) -> dict[str, str]:
    """The message catalogue of a language (the source language has none: ids are its text)."""
    if language == DEFAULT_LANGUAGE:
        return {}
    entries: dict[str, str] = json.loads((MESSAGES / f"{language}.json").read_text(encoding="utf-8"))
    return entries


def pick_language(wanted: str | None) -> str:
    """The language a cookie asks for, if the console has it; else Chinese."""
    return wanted if wanted in LANGUAGES else DEFAULT_LANGUAGE


class Translator:
    """`_("事件", n=3)`: the message in this language, with `{name}` placeholders filled in."""

    def __init__(self, language: str) -> None:
        self.language = pick_language(language)
        self._entries = catalogue(self.language)

    def __call__(self, message: str, **values: object) -> str:
        text = self._entries.get(message, message)
        return text.format(**values) if values else text
