"""The compiled matchers against Sigma's semantics: every modifier pySigma parses, on ECS documents.

Each case is a one-rule detection on our own `egovops/system.auth` log source (ECS field names pass
through unmapped), a document, and whether the rule must fire.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from secops.detection.fixtures import case_documents, fixture_files
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from tests.components import corpus

RULE = """
title: case
id: 0b5b6a36-7f0e-4d4c-9a43-1f1f7b3b0001
logsource: {{product: egovops, service: system.auth}}
detection:
{detection}
level: low
"""


def one_rule(tmp_path: Path, detection: str) -> RuleSet:
    path = tmp_path / "rule.yml"
    body = "\n".join("  " + line for line in detection.strip().splitlines())
    path.write_text(RULE.format(detection=body), encoding="utf-8")
    ruleset = RuleSet.load([path])
    assert not ruleset.failed, ruleset.failed
    return ruleset


def doc(**fields: Any) -> dict[str, Any]:
    """An ECS document from dotted names (`source__ip` for `source.ip`; digits index lists)."""
    out: dict[str, Any] = {"event": {"dataset": "system.auth"}}
    for name, value in fields.items():
        node = out
        parts = name.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    (
        "plain value is case-insensitive",
        "s: {message: 'Failed Password'}\ncondition: s",
        doc(message="failed password"),
        True,
    ),
    (
        "plain value is the whole value",
        "s: {message: 'failed'}\ncondition: s",
        doc(message="failed password"),
        False,
    ),
    ("contains", "s: {message|contains: 'PASS'}\ncondition: s", doc(message="failed password"), True),
    ("startswith", "s: {message|startswith: 'fail'}\ncondition: s", doc(message="Failed password"), True),
    (
        "startswith is anchored",
        "s: {message|startswith: 'pass'}\ncondition: s",
        doc(message="failed password"),
        False,
    ),
    ("endswith", "s: {message|endswith: 'WORD'}\ncondition: s", doc(message="failed password"), True),
    ("list values are OR", "s: {user.name: [alice, root]}\ncondition: s", doc(user__name="root"), True),
    (
        "all links values with AND",
        "s: {message|contains|all: [failed, root]}\ncondition: s",
        doc(message="failed password for admin"),
        False,
    ),
    (
        "all, every value present",
        "s: {message|contains|all: [failed, admin]}\ncondition: s",
        doc(message="failed password for admin"),
        True,
    ),
    (
        "* wildcard",
        "s: {message: 'failed * for root'}\ncondition: s",
        doc(message="Failed password for root"),
        True,
    ),
    ("? wildcard is one character", "s: {user.name: 'r??t'}\ncondition: s", doc(user__name="root"), True),
    ("? wildcard is exactly one", "s: {user.name: 'r?t'}\ncondition: s", doc(user__name="root"), False),
    ("escaped wildcard is literal", "s: {message: 'a\\*b'}\ncondition: s", doc(message="axxb"), False),
    ("escaped wildcard matches a star", "s: {message: 'a\\*b'}\ncondition: s", doc(message="a*b"), True),
    (
        "re searches, case-sensitive",
        "s: {message|re: 'pass(word)?\\s'}\ncondition: s",
        doc(message="failed password for root"),
        True,
    ),
    (
        "re is case-sensitive",
        "s: {message|re: 'PASSWORD'}\ncondition: s",
        doc(message="failed password"),
        False,
    ),
    ("re|i", "s: {message|re|i: 'PASSWORD'}\ncondition: s", doc(message="failed password"), True),
    ("re|m", "s: {message|re|m: '^root$'}\ncondition: s", doc(message="user\nroot\nend"), True),
    ("re without m", "s: {message|re: '^root$'}\ncondition: s", doc(message="user\nroot\nend"), False),
    ("re|s", "s: {message|re|s: 'user.root'}\ncondition: s", doc(message="user\nroot"), True),
    ("cidr v4", "s: {source.ip|cidr: 203.0.113.0/24}\ncondition: s", doc(source__ip="203.0.113.9"), True),
    (
        "cidr v4 outside",
        "s: {source.ip|cidr: 203.0.113.0/24}\ncondition: s",
        doc(source__ip="203.0.114.9"),
        False,
    ),
    ("cidr v6", "s: {source.ip|cidr: '2001:db8::/32'}\ncondition: s", doc(source__ip="2001:db8::8:1"), True),
    (
        "cidr not an address",
        "s: {source.ip|cidr: 10.0.0.0/8}\ncondition: s",
        doc(source__ip="host.example"),
        False,
    ),
    ("base64", "s: {message|base64: 'secret'}\ncondition: s", doc(message="c2VjcmV0"), True),
    (
        "base64offset|contains",
        "s: {message|base64offset|contains: 'whoami'}\ncondition: s",
        doc(message="echo ZWNobyB3aG9hbWk= | base64 -d"),
        True,
    ),
    (
        "windash",
        "s: {process.title|windash|contains: ' -enc '}\ncondition: s",
        doc(process__title="powershell /enc AAA"),
        True,
    ),
    (
        "wide|base64offset",
        "s: {message|wide|base64offset|contains: 'ping'}\ncondition: s",
        doc(message="cABpAG4AZwA="),
        True,
    ),
    ("utf16le through wide", "s: {message|wide: 'ab'}\ncondition: s", doc(message="a\x00b\x00"), True),
    ("exists true", "s: {user.name|exists: true}\ncondition: s", doc(user__name=""), True),
    ("exists true, absent", "s: {user.name|exists: true}\ncondition: s", doc(message="x"), False),
    ("exists false", "s: {user.name|exists: false}\ncondition: s", doc(message="x"), True),
    ("null is absent", "s: {user.name: null}\ncondition: s", doc(message="x"), True),
    ("null, present", "s: {user.name: null}\ncondition: s", doc(user__name="root"), False),
    ("empty string is not null", "s: {user.name: ''}\ncondition: s", doc(user__name=""), True),
    ("lt", "s: {source.port|lt: 1024}\ncondition: s", doc(source__port=22), True),
    ("lte boundary", "s: {source.port|lte: 22}\ncondition: s", doc(source__port=22), True),
    (
        "gt on a numeric string",
        "s: {auditd.data.argc|gt: 3}\ncondition: s",
        doc(auditd__data__argc="4"),
        True,
    ),
    ("gte boundary", "s: {source.port|gte: 1024}\ncondition: s", doc(source__port=1023), False),
    ("number equals a number", "s: {source.port: 22}\ncondition: s", doc(source__port=22), True),
    ("number equals a string field", "s: {user.id: 0}\ncondition: s", doc(user__id="0"), True),
    ("string equals a number field", "s: {source.port: '22'}\ncondition: s", doc(source__port=22), True),
    ("boolean", "s: {modsecurity.intercepted: true}\ncondition: s", doc(modsecurity__intercepted=True), True),
    (
        "fieldref",
        "s: {user.name|fieldref: user.effective.name}\ncondition: s",
        doc(user__name="Root", user__effective__name="root"),
        True,
    ),
    (
        "fieldref differs",
        "s: {user.name|fieldref: user.effective.name}\ncondition: s",
        doc(user__name="ops", user__effective__name="root"),
        False,
    ),
    ("cased", "s: {user.name|cased: Root}\ncondition: s", doc(user__name="root"), False),
    ("cased, same case", "s: {user.name|cased: Root}\ncondition: s", doc(user__name="Root"), True),
    (
        "any list element",
        "s: {related.ip: 203.0.113.9}\ncondition: s",
        doc(related__ip=["10.0.0.1", "203.0.113.9"]),
        True,
    ),
    (
        "list element by position",
        "s: {process.args.1: '-c'}\ncondition: s",
        doc(process__args=["sh", "-c", "id"]),
        True,
    ),
    (
        "list element by position, elsewhere",
        "s: {process.args.0: '-c'}\ncondition: s",
        doc(process__args=["sh", "-c"]),
        False,
    ),
    (
        "through a list of objects",
        "s: {auditd.paths.name|endswith: '.php'}\ncondition: s",
        doc(auditd__paths=[{"name": "/var/www/"}, {"name": "/var/www/x.php"}]),
        True,
    ),
    (
        "not on an absent field is true",
        "s: {user.name: root}\nf: {source.ip: 10.0.0.1}\ncondition: s and not f",
        doc(user__name="root"),
        True,
    ),
    ("1 of", "s1: {user.name: a}\ns2: {user.name: root}\ncondition: 1 of s*", doc(user__name="root"), True),
    (
        "all of",
        "s1: {user.name: root}\ns2: {source.ip: 1.2.3.4}\ncondition: all of s*",
        doc(user__name="root"),
        False,
    ),
    (
        "keywords read the message",
        "k: ['invalid user']\ncondition: k",
        doc(message="Invalid user oracle from x"),
        True,
    ),
    (
        "keyword with wildcard",
        "k: ['invalid * from']\ncondition: k",
        doc(message="Invalid user oracle from x"),
        True,
    ),
    (
        "time part",
        "s: {'@timestamp|hour': 10}\ncondition: s",
        doc(**{"@timestamp": "2026-11-22T10:01:02.000000Z"}),
        True,
    ),
]


@pytest.mark.parametrize(
    ("detection", "document", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_modifier_semantics(tmp_path: Path, detection: str, document: dict[str, Any], expected: bool) -> None:
    ruleset = one_rule(tmp_path, detection)
    rule = ruleset.rules[0]
    assert rule.matches(document) is expected
    assert (ruleset.match(document) == [rule.ref]) is expected


def test_other_datasets_are_never_matched(tmp_path: Path) -> None:
    ruleset = one_rule(tmp_path, "s: {message|contains: failed}\ncondition: s")
    other = {"event": {"dataset": "auditd.log"}, "message": "failed"}
    assert ruleset.match(other) == []
    assert not ruleset.rules[0].matches(other)


def test_dispatch_tree_agrees_with_every_rule_on_real_and_shuffled_events() -> None:
    """`RuleSet.match` (dispatch tree) and `CompiledRule.matches` (one predicate per rule) give the same
    answer; the documents are the fixtures' real events plus copies with values moved between fields."""
    ruleset = RuleSet.load([corpus("sigma", "rules"), BUILTIN_RULES])
    docs: list[dict[str, Any]] = []
    for path in fixture_files([BUILTIN_RULES]):
        data = yaml.safe_load(path.read_text())
        for case in (data.get("match") or []) + (data.get("no_match") or []):
            docs.extend(case_documents(case)[1])
    rng = random.Random(7)
    values = [
        "getcap",
        "-r",
        "/",
        "EXECVE",
        "xclip",
        "GET",
        "http",
        "syscall",
        "/etc/ld.so.preload",
        "api.telegram.org",
        "sqlmap/1.0",
        "union select",
        "dns",
        "sshd",
        "new user",
        "UID=0,",
    ]
    for base in list(docs):
        for _ in range(3):
            copy = json.loads(json.dumps(base))
            copy.setdefault("process", {})["args"] = rng.sample(values, 4)
            copy["message"] = " ".join(rng.sample(values, 3))
            docs.append(copy)
    fired = 0
    for document in docs:
        expected = [rule.ref for rule in ruleset.rules if rule.matches(document)]
        assert ruleset.match(document) == expected
        fired += bool(expected)
    assert fired >= 30
