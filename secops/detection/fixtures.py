"""Rule fixtures: events a rule must match and events it must not, checked by `egovops rules test`.

A fixture file sits in a `fixtures/` folder beside the rules and names one rule (by `name` or `id`):

    rule: egovops_ssh_failed_login
    match:                      # each case: the rule fires on at least one of its events
      - format: auth            # raw log text, parsed by the egovops source of that format
        log: "Nov 22 10:01:02 web1 sshd[7]: Failed password for root from 203.0.113.9 port 4242 ssh2"
    no_match:                   # each case: the rule fires on none of its events
      - event: {event: {dataset: system.auth, action: ssh_login, outcome: success}}   # an ECS document

Raw lines go through the real parser, so a fixture also checks that the rule and the source agree on
field names and values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from secops import sources
from secops.detection.ruleset import FIXTURES_DIR, RULE_SUFFIXES, CompiledRule, RuleSet
from secops.events import Doc, Frame, Rejected
from secops.sources.base import Source

__all__ = ["FixtureResult", "case_documents", "events_from_log", "fixture_files", "run_fixtures"]


@dataclass
class FixtureResult:
    """The outcome of one fixture file."""

    path: str
    rule: str
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rule": self.rule,
            "passed": self.passed,
            "failures": self.failures,
            "ok": self.ok,
        }


class FixtureError(ValueError):
    """A fixture file that cannot be used; the message says why."""


def fixture_files(paths: Iterable[str | Path]) -> list[Path]:
    """Fixture files for the given rule files and directories: `fixtures/` beside them."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.parent.name == FIXTURES_DIR and p.suffix in RULE_SUFFIXES and p.is_file()
            )
        else:
            beside = path.parent / FIXTURES_DIR / path.name
            if beside.is_file():
                found.append(beside)
    return list(dict.fromkeys(found))


def events_from_log(fmt: str, text: str) -> list[Doc]:
    """ECS documents for raw log text, as `egovops ingest --format FMT` would store them."""
    source = sources.create(fmt)
    if not isinstance(source, Source):
        raise FixtureError(f"format {fmt!r} reads files, not text: give the case as an `event`")
    raw = text if text.endswith("\n") else text + "\n"
    framer = source.framer()
    frames: list[Frame] = framer.feed(0, raw.encode("utf-8")) + framer.finish()
    docs: list[Doc] = []
    for frame in frames:
        try:
            parsed = source.parse(frame)
        except Rejected as exc:
            raise FixtureError(f"the {fmt} source rejects the log: {exc}") from exc
        for doc in parsed:
            meta = doc.setdefault("event", {})
            meta.setdefault("dataset", source.dataset)
            meta.setdefault("original", frame.raw.decode("utf-8", "replace"))
            docs.append(doc)
    return docs


def case_documents(case: Any) -> tuple[str, list[Doc]]:
    """A case's label and its documents (from `event`, or `log` parsed by the `format` source)."""
    if not isinstance(case, dict):
        raise FixtureError(f"a case must be a mapping with `log` and `format`, or `event`; got {case!r}")
    if "event" in case:
        doc = case["event"]
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("event"), dict)
            or "dataset" not in doc["event"]
        ):
            raise FixtureError("an `event` case needs an ECS document with event.dataset")
        return str(case.get("name") or "event"), [doc]
    if "log" in case and "format" in case:
        docs = events_from_log(str(case["format"]), str(case["log"]))
        if not docs:
            raise FixtureError(f"the {case['format']} source made no event of the log")
        first = str(case["log"]).strip().splitlines()[0]
        return str(case.get("name") or first[:80]), docs
    raise FixtureError(f"a case needs `log` and `format`, or `event`; got keys {sorted(case)}")


def _find_rule(ruleset: RuleSet, wanted: str) -> CompiledRule | None:
    return next((r for r in ruleset.rules if wanted in (r.ref.name, r.ref.id)), None)


def run_fixture(ruleset: RuleSet, path: Path) -> FixtureResult:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return FixtureResult(str(path), "?", failures=[f"cannot read the fixture: {exc}"])
    if not isinstance(data, dict) or not data.get("rule"):
        return FixtureResult(str(path), "?", failures=["the fixture names no `rule`"])
    result = FixtureResult(str(path), str(data["rule"]))
    rule = _find_rule(ruleset, result.rule)
    if rule is None:
        result.failures.append(f"no loaded rule has name or id {result.rule!r}")
        return result
    if not data.get("match") or not data.get("no_match"):
        result.failures.append("a fixture needs at least one `match` and one `no_match` case")
    for expected in ("match", "no_match"):
        for case in data.get(expected) or []:
            try:
                label, docs = case_documents(case)
            except FixtureError as exc:
                result.failures.append(f"{expected}: {exc}")
                continue
            fired = any(rule.ref in ruleset.match(doc) for doc in docs)
            if fired == (expected == "match"):
                result.passed += 1
            else:
                verb = "did not fire" if expected == "match" else "fired"
                result.failures.append(f"{expected}: {verb} on {label!r}")
    return result


def run_fixtures(ruleset: RuleSet, paths: Iterable[str | Path]) -> list[FixtureResult]:
    """Every fixture for the given rule paths, checked against `ruleset`."""
    return [run_fixture(ruleset, path) for path in fixture_files(paths)]
