"""Rule sets: Sigma files loaded with pySigma, mapped by the egovops pipeline, compiled to matchers.

`RuleSet.load(paths)` never raises for a bad rule: every rule either compiles or becomes a
`RuleFailure` whose reason says what to fix (YAML error at line N, unknown modifier, no field mapping for
field F in logsource L, no egovops data source for a log source). Correlation rules are parsed and
resolved by pySigma and handed on as they are, for the correlation engine to evaluate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from secops.detection import ir, native
from secops.detection.compile import Dispatch, Matchers, Predicate
from secops.detection.correlate_absence import (
    ABSENCE_TYPE,
    AbsenceRule,
    AbsenceRuleError,
    is_absence,
    parse_absence,
)
from secops.detection.native import NativeMatcher
from secops.detection.pipelines import find_logsource, pipeline
from secops.events import Event

AnyCorrelation = SigmaCorrelationRule | AbsenceRule
NativeScan = tuple[list[tuple[int, list["RuleRef"], dict[str, Any], float, float]], float]

BUILTIN_RULES = Path(__file__).with_name("rules")
"""The built-in rule pack for a city SOC."""

RULE_SUFFIXES = (".yml", ".yaml")
FIXTURES_DIR = "fixtures"
"""Folders of this name beside rules hold their test events, not rules; loading skips them."""

DEFAULT_LEVEL = "medium"


@dataclass(frozen=True, slots=True)
class RuleRef:
    """What the correlation engine and alerts need to know of a base rule."""

    id: str
    name: str | None
    title: str
    level: str
    tags: tuple[str, ...]
    path: str


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule (or a whole file) that could not be loaded, and why."""

    path: str
    title: str | None
    reason: str


class CompiledRule:
    """One base rule: its reference, the pySigma rule after the pipeline, and its matcher."""

    __slots__ = ("_predicates", "datasets", "index", "logsource", "ref", "rule")

    def __init__(
        self, ref: RuleRef, rule: SigmaRule, logsource: str, datasets: tuple[str, ...], index: int
    ) -> None:
        self.ref = ref
        self.rule = rule
        self.logsource = logsource
        self.datasets = datasets
        self.index = index
        self._predicates: dict[str, Predicate] = {}

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """Whether this rule matches one ECS document (its `event.dataset` picks the predicate)."""
        event = doc.get("event")
        dataset = event.get("dataset") if isinstance(event, dict) else None
        predicate = self._predicates.get(dataset) if isinstance(dataset, str) else None
        return predicate is not None and predicate(doc)

    def __repr__(self) -> str:
        return f"CompiledRule({self.ref.id!r}, {self.ref.title!r})"


class RuleSet:
    """Base rules compiled for streaming, correlation rules parsed for the engine, and the failures."""

    def __init__(
        self,
        rules: list[CompiledRule],
        correlations: list[AnyCorrelation],
        failed: list[RuleFailure],
        matchers: Matchers,
    ) -> None:
        self.rules = rules
        self.correlations = correlations
        self.failed = failed
        self.by_id = {rule.ref.id: rule for rule in rules}
        self._refs = [rule.ref for rule in rules]
        self._by_sigma = {id(rule.rule): rule.ref for rule in rules}
        self._dispatch: dict[Any, Dispatch] = dict(matchers.dispatch)
        self._matchers = matchers
        self._native: dict[tuple[str, ...], NativeMatcher | None] = {}  # by projection, built on first use

    def match(self, doc: Mapping[str, Any]) -> list[RuleRef]:
        """The base rules one ECS document matches, in load order."""
        event = doc.get("event")
        return self._run(event.get("dataset") if event.__class__ is dict else None, doc)

    def match_event(self, event: Event) -> list[RuleRef]:
        """`match` for a stored event: dispatch on its dataset without reading it from the document."""
        return self._run(event.dataset, event.doc)

    def _run(self, dataset: Any, doc: Mapping[str, Any]) -> list[RuleRef]:
        run = self._dispatch.get(dataset)
        if run is None:
            return []
        found: list[int] = []
        run(doc, found)
        if not found:
            return []
        if len(found) > 1:
            found = sorted(set(found))
        refs = self._refs
        return [refs[index] for index in found]

    def native(self, project: tuple[str, ...] = ()) -> NativeMatcher | None:
        """The native matcher of these rules (`secops.detection.native`) handing back the `project`
        fields of matched events; None if it is not available."""
        if project not in self._native:
            self._native[project] = native.build(self._matchers, project)
        return self._native[project]

    def native_scan(self, events: Sequence[Event], project: tuple[str, ...]) -> NativeScan | None:
        """The native matcher's answer for a batch (see `egovops_native.Matcher.match_batch`): per
        matched event its position, rule references, `project` fields, time and the latest time of the
        unmatched events before it; and the latest time after the last match. None without it."""
        matcher = self.native(project)
        if matcher is None:
            return None
        hits, tail = matcher.match_batch(
            [event.dataset for event in events],
            [event.json for event in events],
            [event.timestamp for event in events],
        )
        refs = self._refs
        return [(n, [refs[i] for i in found], doc, t, before) for n, found, doc, t, before in hits], tail

    def match_batch(self, events: Sequence[Event]) -> list[tuple[int, list[RuleRef]]]:
        """`match_event` for a batch: (position, matched rules) of each event that matched something.

        Natively on the events' JSON text where the native matcher is available, so an event that
        matches nothing is never decoded; else with the generated Python, event by event.
        """
        scan = self.native_scan(events, ())
        if scan is None:
            return [(n, found) for n, event in enumerate(events) if (found := self.match_event(event))]
        return [(position, found) for position, found, *_ in scan[0]]

    def ref_for(self, rule: SigmaRule) -> RuleRef | None:
        """The reference of a pySigma rule of this set (e.g. one a correlation rule points to)."""
        return self._by_sigma.get(id(rule))

    @property
    def datasets(self) -> list[str]:
        return sorted(self._dispatch)

    @classmethod
    def load(
        cls, paths: Iterable[str | Path] = (BUILTIN_RULES,), variables: Mapping[str, list[str]] | None = None
    ) -> RuleSet:
        """Load rule files and directories (recursively, `*.yml` / `*.yaml`, `fixtures/` skipped).

        `variables` gives values to `|expand` placeholders beside `pipelines.DEFAULT_VARS`.
        """
        return _Loader(variables).load(paths)


def correlation_path(rule: AnyCorrelation) -> str | None:
    if isinstance(rule, AbsenceRule):
        return rule.path or None
    return str(rule.source.path) if rule.source else None


def correlation_view(rule: AnyCorrelation) -> dict[str, Any]:
    """What `rules list` shows of a correlation, Sigma's or our absence type alike."""
    kind: str
    if isinstance(rule, AbsenceRule):
        kind, refs = ABSENCE_TYPE, list(rule.rules)
    else:
        kind = rule.type.name.lower()
        refs = [ref if isinstance(ref, str) else str(ref.reference) for ref in rule.rules or ()]
    return {"id": str(rule.id) if rule.id else None, "name": rule.name, "title": rule.title,
            "type": kind, "rules": refs}


# --- loading ------------------------------------------------------------------------------------------


def rule_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The rule files under the given files and directories, in name order."""
    for item in paths:
        path = Path(item)
        if not path.is_dir():
            yield path
            continue
        for found in sorted(path.rglob("*")):
            relative = found.relative_to(path).parts
            hidden = any(part.startswith(".") or part == FIXTURES_DIR for part in relative[:-1])
            if found.is_file() and found.suffix in RULE_SUFFIXES and not hidden:
                yield found


def _reason(error: BaseException) -> str:
    """An error's message without pySigma's appended source path (the report shows the path)."""
    if isinstance(error, SigmaError) and error.args:
        text = str(error.args[0])
        line = error.source.line if error.source is not None else None
        return f"{text} (line {line})" if line else text
    return str(error)


def derived_id(path: Path, position: int) -> str:
    """A stable id for a rule without `id`: from its file and its place in the file."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"egovops-rule:{path.resolve()}#{position}"))


class _Loader:
    def __init__(self, variables: Mapping[str, list[str]] | None) -> None:
        self.pipeline = pipeline(variables)
        self.failed: list[RuleFailure] = []
        self.paths: dict[int, tuple[Path, int]] = {}
        self.absences: list[AbsenceRule] = []

    def load(self, paths: Iterable[str | Path]) -> RuleSet:
        collections = [c for c in (self._read(path) for path in rule_files(paths)) if c is not None]
        merged = SigmaCollection.merge(collections, resolve_references=False)
        if merged.filters:
            merged.apply_filters(merged.filters)
        compiled: list[CompiledRule] = []
        programs: list[dict[str, ir.Node]] = []
        broken: set[int] = set()
        for rule in merged.rules:
            if isinstance(rule, SigmaRule):
                result = self._compile(rule, len(compiled))
                if result is None:
                    broken.add(id(rule))
                else:
                    compiled.append(result[0])
                    programs.append(result[1])
        correlations: list[AnyCorrelation] = [
            c
            for rule in merged.rules
            if isinstance(rule, SigmaCorrelationRule)
            if (c := self._correlation(rule, merged, broken)) is not None
        ]
        correlations.extend(self.absences)
        matchers = Matchers(programs)
        for done in compiled:
            for dataset in done.datasets:
                predicate = matchers.predicate(done.index, dataset)
                if predicate is not None:
                    done._predicates[dataset] = predicate
        return RuleSet(compiled, correlations, self.failed, matchers)

    def _read(self, path: Path) -> SigmaCollection | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.failed.append(RuleFailure(str(path), None, f"cannot read: {exc}"))
            return None
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            self.failed.append(RuleFailure(str(path), None, f"YAML error{where}: {problem}"))
            return None
        for number, document in enumerate(documents, start=1):
            if document is not None and not isinstance(document, dict):
                kind = type(document).__name__
                self.failed.append(
                    RuleFailure(str(path), None, f"YAML document {number} is a {kind}, not a rule")
                )
                return None
        sigma_documents = []
        for number, document in enumerate(documents, start=1):
            if document is not None and is_absence(document):
                # Our own correlation type, which pySigma does not know: parsed here, run by the engine.
                try:
                    self.absences.append(parse_absence(document, str(path)))
                except AbsenceRuleError as exc:
                    title = document.get("title") if isinstance(document.get("title"), str) else None
                    self.failed.append(RuleFailure(str(path), title, f"document {number}: {exc}"))
            else:
                sigma_documents.append(document)
        try:
            collection = SigmaCollection.from_dicts(
                sigma_documents,
                collect_errors=True,
                source=SigmaRuleLocation(path),
                collect_filters=True,
                resolve_references=False,
            )
        except SigmaError as exc:
            self.failed.append(RuleFailure(str(path), None, _reason(exc)))
            return None
        except Exception as exc:
            reason = f"pySigma cannot read it ({type(exc).__name__}: {exc}); check the correlation type"
            self.failed.append(RuleFailure(str(path), None, reason))
            return None
        for error in collection.errors:
            if not any(error in rule.errors for rule in collection.rules):
                self.failed.append(RuleFailure(str(path), None, _reason(error)))
        for position, rule in enumerate(collection.rules):
            self.paths[id(rule)] = (path, position)
        for rule in list(collection.rules):
            if rule.errors:
                self.failed.append(RuleFailure(str(path), rule.title or None, _reason(rule.errors[0])))
                collection.rules.remove(rule)
        return collection

    def _ref(self, rule: SigmaRule | SigmaCorrelationRule) -> RuleRef:
        path, position = self.paths[id(rule)]
        level = rule.level.name.lower() if rule.level is not None else DEFAULT_LEVEL
        return RuleRef(
            id=str(rule.id) if rule.id is not None else derived_id(path, position),
            name=rule.name,
            title=rule.title,
            level=level,
            tags=tuple(str(tag) for tag in rule.tags),
            path=str(path),
        )

    def _compile(self, rule: SigmaRule, index: int) -> tuple[CompiledRule, dict[str, ir.Node]] | None:
        path = str(self.paths[id(rule)][0])
        try:
            self.pipeline.apply(rule)
            conditions = rule.detection.parsed_condition
            if len(conditions) != 1:
                raise ir.UnsupportedError(f"{len(conditions)} conditions in one rule (Sigma allows one)")
            node = ir.simplify(ir.from_sigma(conditions[0].parsed))
            by_dataset = {ds: ir.specialise(node, ds) for ds in sorted(ir.datasets(node))}
            by_dataset = {ds: program for ds, program in by_dataset.items() if program != ir.FALSE}
            if not by_dataset:
                raise ir.UnsupportedError("the rule can match no egovops dataset")
        except (SigmaError, ir.UnsupportedError) as exc:
            self.failed.append(RuleFailure(path, rule.title, _reason(exc)))
            return None
        source = find_logsource(rule.logsource)
        assert source is not None  # the pipeline refuses rules without one
        return CompiledRule(self._ref(rule), rule, source.name, tuple(by_dataset), index), by_dataset

    def _correlation(
        self, rule: SigmaCorrelationRule, collection: SigmaCollection, broken: set[int]
    ) -> SigmaCorrelationRule | None:
        path = str(self.paths[id(rule)][0])
        try:
            rule.resolve_rule_references(collection)
            for reference in rule.rules or ():
                target = reference.rule
                if id(target) in broken:
                    raise ir.UnsupportedError(f"refers to rule {reference.reference!r}, which did not load")
            self.pipeline.apply(rule)
        except (SigmaError, ir.UnsupportedError) as exc:
            self.failed.append(RuleFailure(path, rule.title, _reason(exc)))
            return None
        return rule


# --- the check report ---------------------------------------------------------------------------------


def check(
    paths: Sequence[str | Path] = (BUILTIN_RULES,), variables: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """What `egovops rules check --json` prints: counts, and every rule with its status or reason."""
    ruleset = RuleSet.load(paths, variables)
    rows: list[dict[str, Any]] = [
        {
            "path": rule.ref.path,
            "id": rule.ref.id,
            "title": rule.ref.title,
            "kind": "rule",
            "status": "loaded",
            "logsource": rule.logsource,
            "datasets": list(rule.datasets),
            "reason": None,
        }
        for rule in ruleset.rules
    ]
    rows += [
        {
            "path": correlation_path(rule),
            "id": str(rule.id) if rule.id else None,
            "title": rule.title,
            "kind": "correlation",
            "status": "loaded",
            "logsource": None,
            "datasets": [],
            "reason": None,
        }
        for rule in ruleset.correlations
    ]
    rows += [
        {
            "path": failure.path,
            "id": None,
            "title": failure.title,
            "kind": None,
            "status": "failed",
            "logsource": None,
            "datasets": [],
            "reason": failure.reason,
        }
        for failure in ruleset.failed
    ]
    return {
        "loaded": len(ruleset.rules) + len(ruleset.correlations),
        "failed": len(ruleset.failed),
        "rules": rows,
    }
