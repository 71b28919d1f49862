"""Replay the OWASP CRS 3.3.4 regression suite at the real WAF and judge it by the egovops parser.

Each ftw case is sent as raw bytes (as ftw sends it) to Apache + ModSecurity + CRS at paranoia level 4,
followed by a marker request. The audit log is then parsed by `ModSecurityAudit`, cut at the markers,
and the rule ids parsed for each stage must satisfy the case's `log_contains` / `no_log_contains`
(the regex is applied to `id "<id>"` for every parsed id, the form the log writes them in). It runs
twice, on the native Serial log and on the JSON log. Cases that only exercise Apache's own request
parser (it answers 400 and ModSecurity never sees the request) are excluded with that reason and counted.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from secops.sources.modsecurity import ModSecurityAudit
from tests.components import CORPORA, corpus
from tests.components.waf import CLIENT_TIMEOUT, MARKER_RULE, Waf, WafFactory
from tests.sources import parse_text_log

FAMILIES_REQUIRED = ("913", "930", "932", "941", "942")
FORMATS = ("Native", "JSON")
BLOCKING_SCORE = 5
"""The CRS 3.3 default inbound anomaly threshold (`tx.inbound_anomaly_score_threshold`)."""


@dataclass(frozen=True)
class Stage:
    request: bytes
    log_contains: str | None
    no_log_contains: str | None
    status: tuple[int, ...]
    expect_error: bool


@dataclass(frozen=True)
class Case:
    title: str
    family: str
    stages: tuple[Stage, ...]


def _data(value: Any) -> str:
    if isinstance(value, list):
        return "\r\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def build_request(spec: dict[str, Any]) -> bytes:
    """The bytes ftw sends for a stage input: its request line and headers verbatim, plus its "magic"
    (a form Content-Type and the Content-Length when there is a body) unless `stop_magic` is set."""
    if spec.get("encoded_request"):
        return base64.b64decode(spec["encoded_request"])
    if spec.get("raw_request"):
        return str(spec["raw_request"]).encode("utf-8").decode("unicode_escape").encode("latin-1")
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    data = _data(spec.get("data")).encode("utf-8")
    magic = not spec.get("stop_magic", False)
    if data and magic:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        headers.setdefault("Content-Length", str(len(data)))
    head = f"{spec.get('method', 'GET')} {spec.get('uri', '/')} {spec.get('version', 'HTTP/1.1')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("utf-8") + b"\r\n" + data


def _stage(raw: dict[str, Any]) -> Stage:
    body = raw.get("stage", raw)
    output = body.get("output") or {}
    status = output.get("status")
    statuses = tuple(status) if isinstance(status, list) else (status,) if isinstance(status, int) else ()
    return Stage(
        request=build_request(body.get("input") or {}),
        log_contains=output.get("log_contains"),
        no_log_contains=output.get("no_log_contains"),
        status=statuses,
        expect_error=bool(output.get("expect_error")),
    )


def load_cases(root: Path) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(root.glob("*/*.yaml")):
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        if not document or not document.get("meta", {}).get("enabled", True):
            continue
        for test in document.get("tests") or []:
            if test.get("enabled", True) is False:
                continue
            title = str(test["test_title"])
            cases.append(Case(title, path.stem[:3], tuple(_stage(s) for s in test.get("stages") or [])))
    return cases


CRS_ROOT = CORPORA / "crs-regression"
FAMILIES = [f for f in os.environ.get("EGOVOPS_CRS_FAMILIES", "").split(",") if f.strip()]
"""Rule families to replay (e.g. `913,930,932,941,942`); all of them when unset."""
CASES = [
    case
    for case in (load_cases(CRS_ROOT) if CRS_ROOT.is_dir() else [])
    if not FAMILIES or case.family in FAMILIES
]


def _case_ids(cases: list[Case]) -> list[str]:
    """Test ids: the case title (a few titles repeat in the suite; repeats get `#n`)."""
    seen: Counter[str] = Counter()
    ids = []
    for case in cases:
        seen[case.title] += 1
        ids.append(case.title if seen[case.title] == 1 else f"{case.title}#{seen[case.title]}")
    return ids


CASE_IDS = _case_ids(CASES)


@dataclass
class StageResult:
    status: int | None = None
    answered: bool = False
    ids: set[str] = field(default_factory=set)
    entries: int = 0
    inbound_score: int = 0
    """Highest inbound anomaly score parsed: DetectionOnly answers 200 where the CRS would block."""


@dataclass
class Replay:
    results: list[list[StageResult]]
    """Per case (in CASES order), per stage."""
    seconds: float
    transactions: int


def _status(answer: bytes) -> int | None:
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else None


def parse_log(path: Path) -> Iterator[dict[str, Any]]:
    """Every event the egovops parser reads from an audit log, in file order (no rejects expected)."""
    return parse_text_log(ModSecurityAudit(), path)


def replay(waf: Waf, cases: list[Case]) -> Replay:
    started = time.monotonic()
    pending: list[tuple[str, StageResult]] = []
    markers: list[str] = []
    results: list[list[StageResult]] = []
    for case in cases:
        results.append([])
        for stage in case.stages:
            answer = waf.send(stage.request)
            outcome = StageResult(status=_status(answer), answered=bool(answer))
            if outcome.status is None:
                # Cut by the client: give Apache a moment to log it before the marker closes the group.
                time.sleep(0.3)
            results[-1].append(outcome)
            pending.append((case.title, outcome))
            markers.append(waf.mark())
    time.sleep(0.2)
    groups: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    transactions = 0
    for doc in parse_log(waf.audit_log):
        transactions += 1
        rules = doc["modsecurity"].get("rules", [])
        marker = next((r.get("message") for r in rules if r["id"] == MARKER_RULE), None)
        if marker is None:
            current.append(doc)
        else:
            groups[marker] = current
            current = []
    for (_, outcome), marker in zip(pending, markers, strict=True):
        entries = groups.get(marker, [])
        outcome.entries = len(entries)
        for doc in entries:
            outcome.ids.update(doc.get("rule", {}).get("id", []))
            score = doc["modsecurity"].get("anomaly_score", {}).get("inbound", 0)
            outcome.inbound_score = max(outcome.inbound_score, score)
    return Replay(results, time.monotonic() - started, transactions)


@pytest.fixture(scope="session")
def crs_replays(waf_factory: WafFactory) -> dict[str, Replay]:
    """Replay every case at a Serial and a JSON WAF at once (two servers, two threads)."""
    corpus("crs-regression")
    wafs = {fmt: waf_factory("Serial", fmt) for fmt in FORMATS}
    out: dict[str, Replay] = {}
    errors: list[BaseException] = []

    def run(fmt: str) -> None:
        try:
            out[fmt] = replay(wafs[fmt], CASES)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fmt,)) for fmt in FORMATS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return out


def verdict(stage: Stage, result: StageResult) -> tuple[str, str]:
    """("pass" | "fail" | "excluded", explanation) for one stage."""
    logged = "\n".join(f'id "{rule}"' for rule in sorted(result.ids))
    if result.entries == 0 and (result.status == 400 or not result.answered):
        how = "answered 400" if result.status == 400 else f"gave no answer within {CLIENT_TIMEOUT} s"
        return "excluded", f"Apache {how} and ModSecurity logged nothing (Apache's own request parser)"
    problems = []
    if stage.log_contains and not re.search(stage.log_contains, logged):
        problems.append(f"expected {stage.log_contains!r}")
    if stage.no_log_contains and re.search(stage.no_log_contains, logged):
        problems.append(f"ruled out {stage.no_log_contains!r}")
    status_only = not stage.log_contains and not stage.no_log_contains and stage.status
    if status_only and result.status not in stage.status:
        # DetectionOnly never answers 403; the parsed inbound anomaly score says whether the CRS would.
        blocked = 403 in stage.status and result.inbound_score >= BLOCKING_SCORE
        if not blocked:
            problems.append(
                f"status {result.status} (inbound score {result.inbound_score}), "
                f"expected one of {stage.status}"
            )
    if problems:
        return "fail", f"{'; '.join(problems)}; parsed ids {sorted(result.ids)} (status {result.status})"
    return "pass", ""


def case_verdict(case: Case, results: list[StageResult]) -> tuple[str, str]:
    verdicts = [verdict(stage, result) for stage, result in zip(case.stages, results, strict=True)]
    for kind in ("fail", "excluded"):
        found = [text for k, text in verdicts if k == kind]
        if found:
            return kind, " | ".join(found)
    return "pass", ""


@pytest.mark.component("apache")
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("position", range(len(CASES)), ids=CASE_IDS)
def test_crs_case(position: int, fmt: str, crs_replays: dict[str, Replay]) -> None:
    case = CASES[position]
    kind, text = case_verdict(case, crs_replays[fmt].results[position])
    # "excluded": Apache's own request parser refused it and no audit entry exists, so there is nothing
    # for egovops to parse; the summary test below counts these and caps how many there may be.
    assert kind in {"pass", "excluded"}, f"{CASE_IDS[position]} ({fmt} log): {text}"


@pytest.mark.component("apache")
@pytest.mark.parametrize("fmt", FORMATS)
def test_crs_replay_summary(fmt: str, crs_replays: dict[str, Replay]) -> None:
    """Enough of the suite is really judged (not excluded), in every required family, and quickly."""
    replayed = crs_replays[fmt]
    tally: Counter[tuple[str, str]] = Counter()
    excluded: list[str] = []
    for position, case in enumerate(CASES):
        kind, text = case_verdict(case, replayed.results[position])
        tally[(case.family, kind)] += 1
        if kind == "excluded":
            excluded.append(f"{CASE_IDS[position]}: {text}")
    required = [f for f in FAMILIES_REQUIRED if not FAMILIES or f in FAMILIES]
    judged = {family: tally[(family, "pass")] + tally[(family, "fail")] for family in required}
    passed = sum(n for (_, kind), n in tally.items() if kind == "pass")
    failed = sum(n for (_, kind), n in tally.items() if kind == "fail")
    print(
        f"\n{fmt}: {len(CASES)} cases, {passed} pass, {failed} fail, {len(excluded)} excluded; "
        f"{replayed.transactions} audit entries parsed; replay {replayed.seconds:.1f} s"
    )
    for line in excluded:
        print(f"  excluded {line}")
    assert all(judged[f] > 0 for f in required), judged
    if len(required) == len(FAMILIES_REQUIRED):
        assert sum(judged.values()) >= 200, judged
    # Only requests Apache itself refuses may be excluded; a broken replay would exclude far more.
    assert len(excluded) <= 0.02 * len(CASES), excluded
