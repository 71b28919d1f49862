"""Rule matching alone: events/s of `RuleSet.match_batch`, beside a Zircolite-style SQLite peer.

Rules: the 80 Sigma rules of ../shared/corpora/sigma plus the built-in pack (secops/detection/rules).
Events: bench_detect's mix of the five datasets, made by our own sources from generated logs.

Ours: every event through `RuleSet.match_batch` (the native matcher on the events' JSON text, batches of
1,000) on one core, CPU time (`time.process_time`), with the calibration loop beside it, overall and per
dataset; and the Python reference (`RuleSet.match_event`, decoding each event), which must agree.

The peer does what Zircolite does: the same rules, mapped by the same egovops pipeline, converted by
pySigma's SQLite backend (`sigma.backends.sqlite`) to one `SELECT` each, run over the events loaded into
an in-memory SQLite table with one column per field the rules use (`COLLATE NOCASE`, as Zircolite builds
it; a REGEXP function from Python's `re`). A list value (process arguments, path records, DNS answers) is
one row per element, as a per-record log would be; the peer's time is loading plus querying. Both sides'
(rule, event) matches are compared; where they differ the pairs are printed. The one known source of
difference: Sigma on a list is "any element" for us and Elasticsearch, while the peer's exploded rows
read `not` per element.

    .venv/bin/python benchmarks/bench_match.py [--events 50000] [--json]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from benchmarks.bench_detect import BATCH, SIGMA, fresh, sample_docs, stream
from benchmarks.calibration import calibrate
from secops.detection.pipelines import pipeline
from secops.detection.ruleset import BUILTIN_RULES, RuleSet, rule_files
from secops.detection.runtime import resolve
from secops.events import Event

ROWS_PER_EVENT = 64
"""At most this many exploded rows per event in the peer's table (lists are short in practice)."""


def _match_all(ruleset: RuleSet, events: list[Event]) -> list[tuple[int, list[Any]]]:
    found: list[tuple[int, list[Any]]] = []
    for start in range(0, len(events), BATCH):
        found += [(start + n, refs) for n, refs in ruleset.match_batch(events[start : start + BATCH])]
    return found


def ours(ruleset: RuleSet, events: list[Event]) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """`RuleSet.match_batch` (native where built) on undecoded events, overall and per dataset; and the
    Python reference, `match_event` event by event (decoding each document)."""
    work = fresh(events)
    gc.collect()
    began = time.process_time()
    found = _match_all(ruleset, work)
    total = time.process_time() - began
    per_dataset: dict[str, list[Event]] = {}
    for event in fresh(events):
        per_dataset.setdefault(event.dataset, []).append(event)
    micros = {}
    for dataset, some in sorted(per_dataset.items()):
        began = time.process_time()
        _match_all(ruleset, some)
        micros[dataset] = round((time.process_time() - began) / len(some) * 1e6, 2)
    reference_events = fresh(events)
    began = time.process_time()
    reference = {(ref.id, event.id) for event in reference_events for ref in ruleset.match_event(event)}
    reference_cpu = time.process_time() - began
    pairs = {(ref.id, work[n].id) for n, refs in found for ref in refs}
    figures = {
        "native": ruleset.native() is not None,
        "events_per_s": round(len(events) / total),
        "us_per_event": round(total / len(events) * 1e6, 2),
        "us_per_event_by_dataset": micros,
        "python_reference_events_per_s": round(len(events) / reference_cpu),
        "python_reference_agrees": reference == pairs,
        "matches": len(pairs),
    }
    return figures, pairs


def _queries(paths: list[Path]) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """rule id -> SQL, the columns the queries read, and rule title -> why the backend refused it."""
    backend = sqliteBackend(pipeline())  # type: ignore[no-untyped-call]
    queries: dict[str, str] = {}
    columns: set[str] = set()
    refused: dict[str, str] = {}
    for path in rule_files(paths):
        collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), resolve_references=False)
        for rule in collection.rules:
            if not isinstance(rule, SigmaRule):
                continue  # correlation rules are the engine's, not matching
            try:
                (query,) = backend.convert_rule(rule)  # type: ignore[no-untyped-call]
            except SigmaError as exc:
                refused[rule.title] = str(exc)
                continue
            queries[str(rule.id)] = query.replace(
                "SELECT * FROM logs", "SELECT DISTINCT event_id FROM logs", 1
            )
            columns.update(backend.required_fields(rule))  # type: ignore[no-untyped-call]
    return queries, sorted(columns), refused


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _rows(event: Event, columns: list[str]) -> list[tuple[Any, ...]]:
    values = [resolve(event.doc, name) for name in columns]
    choices = [v if isinstance(v, list) else [v] for v in values]
    product = itertools.islice(itertools.product(*choices), ROWS_PER_EVENT)
    return [(event.id, *(_cell(v) for v in row)) for row in product]


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def peer(
    queries: dict[str, str], columns: list[str], events: list[Event]
) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    gc.collect()
    began = time.process_time()
    db = sqlite3.connect(":memory:")
    db.create_function("REGEXP", 2, _regexp, deterministic=True)
    quoted = ", ".join(f'"{name}" TEXT COLLATE NOCASE' for name in columns)
    db.execute(f"CREATE TABLE logs (event_id TEXT, {quoted})")
    marks = ", ".join("?" * (len(columns) + 1))
    rows = 0
    for start in range(0, len(events), 5000):
        batch = [row for event in events[start : start + 5000] for row in _rows(event, columns)]
        rows += len(batch)
        db.executemany(f"INSERT INTO logs VALUES ({marks})", batch)
    loaded = time.process_time()
    pairs = {(rule_id, event_id) for rule_id, sql in queries.items() for (event_id,) in db.execute(sql)}
    done = time.process_time()
    db.close()
    total = done - began
    figures = {
        "events_per_s": round(len(events) / total),
        "load_s": round(loaded - began, 3),
        "query_s": round(done - loaded, 3),
        "rows": rows,
        "columns": len(columns),
        "queries": len(queries),
        "matches": len(pairs),
    }
    return figures, pairs


def side_by_side(ruleset: RuleSet, events: list[Event], paths: list[Path]) -> dict[str, Any]:
    """The peer's figures on `events`, and whether its (rule, event) matches are ours."""
    queries, columns, _ = _queries(paths)
    mine = {(ref.id, events[n].id) for n, refs in _match_all(ruleset, fresh(events)) for ref in refs}
    decoded = fresh(events)
    for event in decoded:
        _ = event.doc
    theirs, pairs = peer(queries, columns, decoded)
    return {**theirs, "ours": len(mine), "agree": pairs == mine}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    paths = [SIGMA / "rules", BUILTIN_RULES]
    with tempfile.TemporaryDirectory(prefix="bench-match-") as tmp:
        events = stream(sample_docs(args.events, Path(tmp)), args.events)
    ruleset = RuleSet.load(paths)
    queries, columns, refused = _queries(paths)
    before = calibrate()
    mine, our_pairs = ours(ruleset, events)
    decoded = fresh(events)
    for event in decoded:
        _ = event.doc  # the peer is handed decoded documents, as before the native matcher
    theirs, peer_pairs = peer(queries, columns, decoded)
    after = calibrate()
    titles = {rule.ref.id: rule.ref.title for rule in ruleset.rules}
    only_ours = Counter(titles.get(rule, rule) for rule, _ in our_pairs - peer_pairs)
    only_peer = Counter(titles.get(rule, rule) for rule, _ in peer_pairs - our_pairs)
    report = {
        "events": len(events),
        "datasets": dict(Counter(event.dataset for event in events)),
        "rules": len(ruleset.rules),
        "rule_load_failures": len(ruleset.failed),
        "calibration_s": [round(before, 3), round(after, 3)],
        "ours": mine,
        "sqlite_peer": theirs,
        "sqlite_refused": refused,
        "agree": our_pairs == peer_pairs,
        "only_ours": dict(only_ours),
        "only_peer": dict(only_peer),
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"{len(events)} events, {len(ruleset.rules)} rules, calibration {before:.3f}/{after:.3f} s")
        print(
            f"ours   (native: {mine['native']}):    {mine['events_per_s']:>9,} events/s  "
            f"({mine['us_per_event']} us/event; {mine['us_per_event_by_dataset']})"
        )
        print(
            f"ours   (Python reference):  {mine['python_reference_events_per_s']:>9,} events/s  "
            f"(decoding each event; same matches: {mine['python_reference_agrees']})"
        )
        print(
            f"peer   (pySigma SQLite):    {theirs['events_per_s']:>9,} events/s  "
            f"(load {theirs['load_s']} s, {theirs['queries']} queries {theirs['query_s']} s)"
        )
        print(f"matches: ours {mine['matches']}, peer {theirs['matches']}; agree: {report['agree']}")
        for side, found in (("only ours", only_ours), ("only peer", only_peer)):
            for title, count in found.most_common():
                print(f"  {side}: {title}: {count}")
        for title, reason in refused.items():
            print(f"  peer refused {title}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
