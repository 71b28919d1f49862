"""The native matcher (native/src/matcher.rs) against the generated Python matchers, and the engine's batches.

The Python compiler is the reference: on every document both must find the same rules. The full check
over the corpora, the benchmark stream and their mutations is native/tests/check_matcher_parity.py, run
here too; the cases below pin Sigma's corners (case, lists, numbers as text, modifiers) one by one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from secops.detection.engine import Engine
from secops.detection.native import rust_regex
from secops.detection.ruleset import RuleSet
from secops.events import Event
from tests.components import missing

ROOT = Path(__file__).resolve().parents[2]

RULES = """
title: modifiers
id: 00000000-0000-4000-8000-000000000001
logsource: {product: egovops, service: system.auth}
detection:
  words: {process.command_line|contains|all: [curl, '| sh']}
  start: {url.original|startswith: /ADMIN}
  end: {file.path|endswith: [.PHP, .jsp]}
  dash: {process.args|windash|contains: ' -enc'}
  b64: {process.command_line|base64offset|contains: whoami}
  net: {source.ip|cidr: [10.0.0.0/8, '2001:db8::/32']}
  port: {destination.port: 22}
  big: {http.response.bytes|gt: 1000}
  regex: {user.name|re: '^ro+t$'}
  glob: {file.path: '/var/www/*/up?oad/*'}
  flag: {event.ingested: true}
  condition: 1 of them
---
title: absent user id
id: 00000000-0000-4000-8000-000000000003
logsource: {product: egovops, service: system.auth}
detection:
  selection: {user.id: null, user.name|startswith: ali}
  condition: selection
---
title: keywords and refs
id: 00000000-0000-4000-8000-000000000002
logsource: {product: egovops, service: system.auth}
detection:
  keywords: [mimikatz, 'EVIL ']
  same: {user.name|fieldref: user.target.name}
  has: {process.parent.name|exists: true}
  condition: keywords or same or (has and not keywords)
"""

DOCS: list[dict[str, Any]] = [
    {"process": {"command_line": "CURL http://x | SH"}},
    {"process": {"command_line": ["curl x", "| sh"]}},
    {"url": {"original": "/admin/login"}},
    {"url": {"original": ["/x", "/Admin"]}},
    {"file": {"path": "/srv/INDEX.php"}},
    {"file": {"path": "/var/www/site/upload/a"}},
    {"file": {"path": "/var/www/site/uploads/a"}},
    {"process": {"args": ["powershell", "/enc", "AAA"]}},
    {"process": {"command_line": "echo d2hvYW1p | base64 -d"}},
    {"source": {"ip": "10.1.2.3"}},
    {"source": {"ip": "010.1.2.3"}},
    {"source": {"ip": ["192.0.2.1", "2001:db8::5"]}},
    {"destination": {"port": "22"}},
    {"destination": {"port": 22.0}},
    {"destination": {"port": [21, 22]}},
    {"http": {"response": {"bytes": "1001"}}},
    {"http": {"response": {"bytes": [3, 1000.5]}}},
    {"http": {"response": {"bytes": True}}},
    {"user": {"name": "Root"}},
    {"user": {"name": "rooot\n"}},
    {"user": {"name": "alice", "target": {"name": "ALICE"}}},
    {"user": {"id": None}},
    {"user": {"id": 0}},
    {"event": {"ingested": "TRUE"}},
    {"message": "ran Mimikatz today"},
    {"event": {"original": "evil  twice"}},
    {"process": {"parent": {"name": ""}}},
    {"process": {"parent": {"name": "sshd"}}, "message": "MIMIKATZ"},
    {"process": [{"parent": {"name": "a"}}, {"parent": {}}]},
    {"process": {"parent": {"name": []}}},
    {"source.ip": "10.0.0.1"},
    {},
]


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "rules.yml"
    path.write_text(RULES)
    loaded = RuleSet.load([path])
    assert not loaded.failed, loaded.failed
    return loaded


def _native_or_skip(ruleset: RuleSet) -> None:
    if ruleset.native() is None:
        missing("egovops_native with its Matcher", "make setup (rebuilds the native module)")


def _events(docs: list[dict[str, Any]]) -> list[Event]:
    out = []
    for number, doc in enumerate(docs):
        full = {**doc, "@timestamp": f"2026-11-22T10:00:{number:02d}.000000Z"}
        full["event"] = {**full.get("event", {}), "dataset": "system.auth"}
        out.append(Event(f"e{number}", full["@timestamp"], "system.auth", json=orjson.dumps(full).decode()))
    return out


def test_native_matches_exactly_what_python_matches(ruleset: RuleSet) -> None:
    _native_or_skip(ruleset)
    events = _events(DOCS)
    native = {n: [ref.id for ref in refs] for n, refs in ruleset.match_batch(events)}
    python = {n: ids for n, event in enumerate(events) if (ids := [r.id for r in ruleset.match_event(event)])}
    assert native == python
    modifiers, keywords, null = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
    assert 10 not in python  # 010.1.2.3 is no address for Python's ipaddress
    assert python[9] == python[11] == [modifiers]  # CIDR, v4 and v6
    assert python[12] == python[13] == python[14] == [modifiers]  # 22 as text, float, list element
    assert set(python[20]) == {keywords, null}  # fieldref across case; user.id absent is null
    assert 21 not in python and 22 not in python  # no user.name: the null rule needs one
    assert python[26] == python[28] == [keywords]  # exists (an empty string; through a list)
    assert 29 not in python and 30 not in python  # an empty list is absent; dotted keys are not paths
    assert 6 not in python and 18 not in python  # `?` is one character; `re` is case-sensitive
    assert len(python) == 21


def test_batches_raise_the_alerts_events_one_by_one_do(ruleset: RuleSet) -> None:
    reference = Engine(ruleset, native=False)
    expected = [a.id for event in _events(DOCS) for a in reference.process(event)]
    batched = Engine(ruleset)
    got = [a.id for a in batched.process_batch(_events(DOCS))]
    assert got == expected
    assert reference.metrics() == batched.metrics()
    assert batched.metrics()["events"] == len(DOCS)


@pytest.mark.parametrize(
    ("pattern", "flags", "expected"),
    [
        (r"^/(usr/)?bin/(sh|bash)$", 0, r"^/(usr/)?bin/(sh|bash)(?:\n?\z)"),
        (r"a$|b", re.IGNORECASE, r"(?i)a(?:\n?\z)|b"),
        (r"(a$)b", 0, None),
        (r"a$", re.MULTILINE, r"(?m)a$"),
        (r"x\Z", 0, r"x\z"),
        (r"a[]&~[]b", 0, r"a[\]\&\~\[]b"),
        (r"(?P<n>a)(?P=n)", 0, None),
        (r"(a)\1", 0, None),
        (r"a\<b", 0, r"a<b"),
        (r"[\b]", 0, None),
        (r"\d+\.\w", 0, r"\d+\.\w"),
    ],
)
def test_regular_expressions_are_ported_only_when_they_mean_the_same(
    pattern: str, flags: int, expected: str | None
) -> None:
    assert rust_regex(re.compile(pattern, flags)) == expected


@pytest.mark.timeout(1800)
def test_native_matcher_equals_python_reference_on_every_corpus() -> None:
    ruleset = RuleSet.load([])
    _native_or_skip(ruleset)
    check = ROOT / "native" / "tests" / "check_matcher_parity.py"
    result = subprocess.run([sys.executable, str(check)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "all equal" in result.stdout
    assert "different 0" in result.stdout
