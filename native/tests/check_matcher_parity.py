"""Differential check: the native Sigma matcher (`egovops_native.Matcher`) against the Python reference.

The reference is the generated Python of `secops/detection/compile.py` (`RuleSet.match` on the decoded
document); the native side matches the same events' JSON text (`RuleSet.match_batch`). Rules: the Sigma
corpus (../shared/corpora/sigma) plus the built-in pack. Events: everything our sources make of
tests/data and the shared corpora (auditd, sshd and other CrowdSec test logs, Suricata EVE; read in
place, ingested into a temporary SQLite store), the built-in rules' fixture events, the benchmark
generator's five-dataset stream, and a seeded mutation of each of those (strings re-cased, values
wrapped in lists, numbers as text and text as numbers, values nulled) to reach the corners of Sigma's
semantics (case, lists, numbers). Compared per event: the set of matching rules. Then the engine: the
reference (event by event, Python matching) against `Engine.process_batch` with the native matcher on
the benchmark stream: the same alerts (ids, counts, evidence, entities) in the same order.

    cd native && CARGO_TARGET_DIR=target-matcher cargo build --release --no-default-features \\
        --features matcher
    mkdir -p /tmp/native-matcher && cp target-matcher/release/libegovops_native.so \\
        /tmp/native-matcher/egovops_native.abi3.so
    PYTHONPATH=/tmp/native-matcher .venv/bin/python native/tests/check_matcher_parity.py [--events 20000]

Exit status 0 when every comparison is equal.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from benchmarks.bench_detect import SIGMA, sample_docs, stream  # noqa: E402
from secops.detection.correlate_native import DISABLE_ENV  # noqa: E402
from secops.detection.engine import Engine  # noqa: E402
from secops.detection.fixtures import case_documents, fixture_files  # noqa: E402
from secops.detection.ruleset import BUILTIN_RULES, RuleSet  # noqa: E402
from secops.events import Doc, Event  # noqa: E402
from secops.ingest.pipeline import IngestOptions, Ingestor  # noqa: E402
from secops.store.sqlite import SQLiteStore  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
SHOWN_DIFFS = 5
BATCH = 1000


def corpus_files() -> list[Path]:
    """Log files our sources read: the repository's test data and the shared corpora, in place."""
    go = CORPORA / "go-libaudit"
    files = [p for p in sorted((ROOT / "tests" / "data").rglob("*")) if p.is_file()]
    files += sorted([*go.glob("auparse/testdata/*.log"), *go.glob("testdata/*.log")])
    files += sorted((CORPORA / "audit-userspace").rglob("*.log"))
    files += sorted((CORPORA / "crowdsec-hub" / ".tests").glob("*/*.log"))
    files += sorted((CORPORA / "suricata-verify").rglob("eve.json"))
    return files


def ingested(files: list[Path], work: Path) -> tuple[list[Doc], int]:
    """The documents our sources make of the files (each file on its own: a format not recognised is
    skipped), and how many files gave none."""
    docs: list[Doc] = []
    skipped = 0
    for number, path in enumerate(files):
        store = SQLiteStore(work / f"corpus-{number}.db")
        try:
            report = Ingestor(store, IngestOptions(observer="parity-host", keep_original=True)).run([path])
            found = list(store.export())
        finally:
            store.close()
        skipped += bool(report.errors) or not found
        docs += found
    return docs, skipped


def fixture_docs() -> list[Doc]:
    docs: list[Doc] = []
    for path in fixture_files([BUILTIN_RULES]):
        import yaml

        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in [*(spec.get("match") or []), *(spec.get("no_match") or [])]:
            docs += case_documents(case)[1]
    return docs


def _mutate_value(value: Any, rng: random.Random) -> Any:
    roll = rng.random()
    if isinstance(value, str):
        if roll < 0.3:
            return value.upper()
        if roll < 0.45:
            return value.swapcase()
        if roll < 0.6:
            return [value, "x"]
        if roll < 0.7 and value.strip().lstrip("-").isdigit() and abs(int(value)) < 2**63:
            return int(value)
        if roll < 0.75:
            return None
        return value
    if isinstance(value, bool):
        return str(value).lower() if roll < 0.3 else value
    if isinstance(value, int | float):
        if roll < 0.3:
            return str(value)
        if roll < 0.45:
            return float(value)
        if roll < 0.6:
            return [value]
        return value
    return value


def mutate(doc: Doc, rng: random.Random) -> Doc:
    """A copy with about half of its values changed in the ways Sigma's semantics distinguish."""
    out = copy.deepcopy(doc)

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, dict | list):
                walk(value)
            elif not (isinstance(node, dict) and key == "dataset") and rng.random() < 0.5:
                node[key] = _mutate_value(value, rng)

    walk(out)
    return out


def as_events(docs: list[Doc]) -> Iterator[Event]:
    """Events carrying only JSON text, as the store and the native parsers hand them over."""
    for number, doc in enumerate(docs):
        event = doc.get("event")
        dataset = event.get("dataset") if isinstance(event, dict) else None
        stamp = doc.get("@timestamp")
        yield Event(
            f"parity-{number}",
            stamp if isinstance(stamp, str) else "2026-01-01T00:00:00.000000Z",
            dataset if isinstance(dataset, str) else "",
            json=orjson.dumps(doc).decode(),
        )


def compare_matches(ruleset: RuleSet, docs: list[Doc], label: str) -> bool:
    events = list(as_events(docs))
    native: dict[int, list[str]] = {}
    for start in range(0, len(events), BATCH):
        for position, refs in ruleset.match_batch(events[start : start + BATCH]):
            native[start + position] = [ref.id for ref in refs]
    different = 0
    shown = 0
    matched = Counter[str]()
    for number, doc in enumerate(docs):
        reference = [ref.id for ref in ruleset.match(doc)]
        matched.update(reference)
        if reference != native.get(number, []):
            different += 1
            if shown < SHOWN_DIFFS:
                shown += 1
                titles = {rule.ref.id: rule.ref.title for rule in ruleset.rules}
                only_ref = [titles[r] for r in reference if r not in native.get(number, [])]
                only_native = [titles[r] for r in native.get(number, []) if r not in reference]
                print(f"  {label} event {number}: only Python {only_ref}, only native {only_native}")
                print(f"    {orjson.dumps(doc).decode()[:400]}")
    print(
        f"{label}: compared {len(docs)} events, equal {len(docs) - different}, different {different} "
        f"({sum(matched.values())} rule matches, {len(matched)} distinct rules)"
    )
    return different == 0


def _alert_key(alert: Any) -> tuple[Any, ...]:
    """Every field and summary as the alert contract writes them, and the container types behind them
    (the native side makes the alerts: `tags` and `event_ids` must stay lists, `entity` a dict)."""
    return (orjson.dumps(alert.to_dict(), option=orjson.OPT_SORT_KEYS),
            type(alert.tags), type(alert.event_ids), type(alert.entity))


def _python_windows(ruleset: RuleSet) -> Engine:
    """The native matcher with the correlation windows in Python (`EGOVOPS_NATIVE_CORRELATE=0`)."""
    saved = os.environ.get(DISABLE_ENV)
    os.environ[DISABLE_ENV] = "0"
    try:
        return Engine(ruleset)
    finally:
        if saved is None:
            del os.environ[DISABLE_ENV]
        else:
            os.environ[DISABLE_ENV] = saved


def _batched(
    make: Callable[[], Engine], events: list[Event], snapshot_at: int | None = None
) -> tuple[list[Any], bytes, Engine]:
    """Alerts of `events` in batches, then flush; with `snapshot_at`, the engine is snapshotted before
    that batch and replaced by a new one restored from it (the snapshot is returned)."""
    engine = make()
    got: list[Any] = []
    taken = b""
    for start in range(0, len(events), BATCH):
        if start == snapshot_at:
            taken = engine.snapshot()
            engine = make()
            engine.restore(taken)
        got += engine.process_batch(events[start : start + BATCH])
    return got + engine.flush(), taken, engine


def _report(label: str, expected: list[Any], got: list[Any], metrics_same: bool) -> bool:
    keys, found = [_alert_key(a) for a in expected], [_alert_key(a) for a in got]
    same = keys == found
    print(
        f"engine, {label}: alerts handed out {len(expected)} / {len(got)}; "
        f"{'equal' if same else 'DIFFERENT'}; metrics {'equal' if metrics_same else 'DIFFERENT'}"
    )
    for n, (a, b) in enumerate(zip(keys, found, strict=False)):
        if a != b:
            print(f"  first difference at alert {n}:\n    {a}\n    {b}")
            break
    return same and metrics_same


def compare_engine(ruleset: RuleSet, stamped: list[Event], label: str) -> bool:
    """The engine event by event with Python matching and windows, against batches with the native
    matcher and Python windows, and against batches with native windows (also across a snapshot)."""
    reference = Engine(ruleset, native=False)  # `RuleSet.match_event` on the decoded document
    expected = [a for event in _fresh(stamped) for a in reference.process(event)] + reference.flush()
    python = partial(_python_windows, ruleset)
    got, _, engine = _batched(python, _fresh(stamped))
    ok = _report(f"{label}, native matcher", expected, got, reference.metrics() == engine.metrics())
    native = partial(Engine, ruleset)
    if native().native_windows:
        got, _, engine = _batched(native, _fresh(stamped))
        ok &= _report(f"{label}, native windows", expected, got, reference.metrics() == engine.metrics())
        middle = (len(stamped) // BATCH // 2) * BATCH
        py_alerts, py_snapshot, _ = _batched(python, _fresh(stamped), middle)
        rs_alerts, rs_snapshot, _ = _batched(native, _fresh(stamped), middle)
        same_state = orjson.loads(py_snapshot) == orjson.loads(rs_snapshot)
        print(f"engine, {label}: snapshot at event {middle}: {'equal' if same_state else 'DIFFERENT'}")
        ok &= same_state and _report(f"{label}, restored from it", py_alerts, rs_alerts, True)
    else:
        print(f"engine, {label}: no native windows in this build or for these rules")
    return ok


def _fresh(events: list[Event]) -> list[Event]:
    return [Event(e.id, e.timestamp, e.dataset, json=e.json) for e in events]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000, help="benchmark stream length")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    ruleset = RuleSet.load([SIGMA, BUILTIN_RULES])
    matcher = ruleset.native()
    if matcher is None:
        print("egovops_native has no Matcher: build the crate with the `matcher` feature")
        return 2
    print(f"rules: {len(ruleset.rules)} base rules; native leaves run by Python: {matcher.fallback_leaves}")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="matcher-parity-") as tmp:
        work = Path(tmp)
        corpus, skipped = ingested(corpus_files(), work)
        print(f"corpora: {len(corpus)} events ({skipped} files gave none)")
        bench = stream(sample_docs(args.events, work), args.events)
    bench_docs = [e.doc for e in bench]
    fixtures = fixture_docs()
    ok = True
    for label, docs in (("corpora", corpus), ("fixtures", fixtures), ("benchmark", bench_docs)):
        ok &= compare_matches(ruleset, docs, label)
        ok &= compare_matches(ruleset, [mutate(doc, rng) for doc in docs], f"{label} mutated")
    ok &= compare_engine(ruleset, bench, "benchmark")
    mutated = [{**mutate(doc, rng), "@timestamp": doc["@timestamp"]} for doc in bench_docs]
    ok &= compare_engine(ruleset, list(as_events(mutated)), "benchmark mutated")
    ok &= compare_engine(ruleset, list(as_events(corpus)), "corpora")
    ok &= compare_engine(ruleset, list(as_events(fixtures)), "fixtures")
    print("all equal" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
