"""The English catalogue covers every message the console shows; a missing one would show Chinese."""

from __future__ import annotations

import re

from egovops.web.console import assessments as compliance
from egovops.web.console import routes
from egovops.web.console.rendering import TEMPLATES
from egovops.web.i18n import Translator, catalogue, pick_language
from secops.compliance.scoring import Risk
from secops.incidents.states import LABELS_ZH

LITERAL = re.compile(r"""_\(\s*(["'])(.*?)\1""")


def messages_in_use() -> set[str]:
    """Literal `_("…")` ids in the templates, and the labels handed to `_()` as data."""
    found = {m.group(2) for path in TEMPLATES.glob("*.html") for m in LITERAL.finditer(path.read_text())}
    return found | {label for _href, label, _roles in routes.NAV} | set(routes.ROLE_NAMES.values()) | set(
        routes.SEVERITY_NAMES.values()
    ) | set(routes.FIXTURE_NAMES.values()) | set(LABELS_ZH.values()) | set(compliance.COLUMNS) | {
        r.value for r in Risk
    }


def test_every_message_has_an_english_entry() -> None:
    used = messages_in_use()
    assert len(used) > 100
    assert sorted(used - set(catalogue("en"))) == []
    assert sorted(set(catalogue("en")) - used) == [], "entries nothing uses"


def test_placeholders_match_between_languages() -> None:
    for message, english in catalogue("en").items():
        assert set(re.findall(r"{(\w+)}", message)) == set(re.findall(r"{(\w+)}", english)), message


def test_chinese_unless_english_is_asked_for() -> None:
    assert pick_language(None) == pick_language("fr") == pick_language("") == "zh"
    assert Translator("en")("第 {n} 页", n=3) == "Page 3"
    assert Translator("zh")("第 {n} 页", n=3) == "第 3 页"
    assert Translator("en")("not in the catalogue") == "not in the catalogue"
