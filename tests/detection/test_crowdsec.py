"""CrowdSec's own scenario tests as the expected outcome of our Sigma rewrites of its scenarios.

Each hub test directory holds a log, the scenarios it runs (config.yaml) and what they must raise
(scenario.assert: how many results, each one's scenario, source and event count). The log is ingested with
egovops's real sources into a real store, run through the engine with the built-in pack, and the alerts of
our rewrites of those scenarios are compared with the assertions. What cannot be compared is listed in
UNMATCHED with the reason, and a test keeps that list honest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from secops.detection.alerts import Alert, latest
from secops.detection.engine import Engine
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from secops.events import Event
from secops.ingest.pipeline import Ingestor
from secops.store import open_store
from tests.components import CORPORA

HUB = CORPORA / "crowdsec-hub"
TESTS = HUB / ".tests"

UNMATCHED = {
    "modsecurity-nginx": "nginx's ModSecurity error-log lines: no egovops source reads them (our WAF source "
    "reads ModSecurity audit logs); the modsecurity rewrite is checked on our own audit logs instead",
    "nginx-http-sqli-probing": "an nginx access log: no egovops source reads web server access logs",
}
"""Hub tests with expected alerts that cannot be compared, and why."""

PARTLY_MATCHED = {
    "ssh-slow-bf": "crowdsecurity/ssh-slow-bf is not in the corpus; the test also runs crowdsecurity/ssh-bf "
    "to show it stays quiet, and that part is compared",
}

COUNT_DIFFERENCES = {
    ("crowdsecurity/auditd-postexploit-exec-from-net", "26843"): (
        3,
        2,
        "CrowdSec counts every execve poured into the bucket (chmod too); the alert counts the events "
        "that match the correlation's rules (wget, then /tmp/blitz64)",
    ),
}
"""(scenario, source) -> (CrowdSec's event count, ours, why they differ)."""


@dataclass(frozen=True, slots=True, order=True)
class Outcome:
    scenario: str
    source: str
    events: int


def expected(test: Path) -> list[Outcome]:
    """The results scenario.assert requires, in its order."""
    text = (test / "scenario.assert").read_text()
    found = re.search(r"^len\(results\) == (\d+)$", text, re.M)
    if found is None:
        return []
    outcomes = []
    for i in range(int(found[1])):
        source = re.search(rf'^"([^"]+)" in results\[{i}\]\.Overflow\.GetSources\(\)$', text, re.M)
        scenario = re.search(rf'^results\[{i}\]\.Overflow\.Alert\.GetScenario\(\) == "([^"]+)"$', text, re.M)
        events = re.search(rf"^results\[{i}\]\.Overflow\.Alert\.GetEventsCount\(\) == (\d+)$", text, re.M)
        assert source and scenario and events, f"{test.name}: result {i} not understood"
        outcomes.append(Outcome(scenario[1].lower(), source[1], int(events[1])))
    return outcomes


def scenarios_run(test: Path) -> tuple[list[str], list[str]]:
    """(names of the scenarios the test runs that the corpus has, the entries it does not have)."""
    config = yaml.safe_load((test / "config.yaml").read_text())
    names: list[str] = []
    missing: list[str] = []
    for entry in config.get("scenarios") or []:
        if not entry:
            continue
        path = HUB / entry if entry.startswith("./") else HUB / "scenarios" / f"{entry}.yaml"
        if not path.exists():
            missing.append(entry)
            continue
        names += [doc["name"].lower() for doc in yaml.safe_load_all(path.read_text()) if doc]
    return names, missing


def hub_tests() -> Iterator[Path]:
    return (t for t in sorted(TESTS.iterdir()) if (t / "scenario.assert").exists() and expected(t))


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return RuleSet.load(sorted(BUILTIN_RULES.glob("corr_*.yml")))


def rewrites(ruleset: RuleSet) -> dict[str, str]:
    """CrowdSec scenario name -> the name of our correlation that rewrites it (`egovops.crowdsec`)."""
    found: dict[str, str] = {}
    for corr in ruleset.correlations:
        ext: Any = corr.custom_attributes.get("egovops", {})
        if isinstance(ext, dict) and "crowdsec" in ext and corr.name:
            found[str(ext["crowdsec"]).lower()] = corr.name
    return found


def detect(ruleset: RuleSet, log: Path, tmp: Path) -> tuple[list[Alert], list[str]]:
    """Ingest one log with the real sources into a real store, replay it in time order through the engine."""
    store = open_store(f"sqlite:///{tmp / 'events.db'}")
    report = Ingestor(store).run([log])
    events = [Event(d["event"]["id"], d["@timestamp"], d["event"]["dataset"], d) for d in store.export()]
    store.close()
    engine = Engine(ruleset)
    alerts: list[Alert] = []
    for event in events:
        alerts.extend(engine.process(event))
    alerts.extend(engine.flush())
    return latest(alerts), report.errors


def ours(alerts: list[Alert], rule: str) -> list[tuple[str, int]]:
    found = [a for a in alerts if a.rule_name == rule]
    return sorted((" ".join(str(v) for v in a.entity.values()), a.count) for a in found)


@pytest.mark.parametrize("test", [t.name for t in hub_tests() if t.name not in UNMATCHED])
def test_rewrite_raises_what_the_hub_test_expects(test: str, ruleset: RuleSet, tmp_path: Path) -> None:
    directory = TESTS / test
    config = yaml.safe_load((directory / "config.yaml").read_text())
    alerts, errors = detect(ruleset, directory / config["log_file"], tmp_path)
    assert errors == []
    names, missing = scenarios_run(directory)
    assert bool(missing) == (test in PARTLY_MATCHED), missing
    mapping = rewrites(ruleset)
    want = [o for o in expected(directory) if o.scenario in names]
    for scenario in names:
        assert scenario in mapping, f"no rewrite of {scenario}"
        wanted = sorted(
            (o.source, COUNT_DIFFERENCES.get((scenario, o.source), (0, o.events))[1])
            for o in want
            if o.scenario == scenario
        )
        got = [(source, count) for source, count in ours(alerts, mapping[scenario])]
        # The alert names the scenario's source among its group-by values (a pid, an IP, an executable).
        matched = sorted((w, c) for w, c in wanted for g, n in got if w in g.split() and c == n)
        assert matched == wanted and len(got) == len(wanted), (scenario, got, wanted)


@pytest.mark.parametrize("test", sorted(UNMATCHED))
def test_unmatched_hub_tests_are_unmatched_for_the_stated_reason(
    test: str, ruleset: RuleSet, tmp_path: Path
) -> None:
    directory = TESTS / test
    assert expected(directory), "the hub test expects alerts"
    config = yaml.safe_load((directory / "config.yaml").read_text())
    names, missing = scenarios_run(directory)
    assert names and not missing
    _, errors = detect(ruleset, directory / config["log_file"], tmp_path)
    assert len(errors) == 1 and "cannot tell the log format" in errors[0]


def test_every_hub_test_with_expectations_is_compared_or_listed() -> None:
    compared = {
        "auditd-base64-exec",
        "auditd-postexploit-exec-from-net",
        "auditd-suid-crash",
        "ssh-slow-bf",
        "sshd-bad-keyexchange-bf",
        "suricata-eve-detect",
    }
    assert {t.name for t in hub_tests()} == compared | set(UNMATCHED)


def test_modsecurity_rewrite_on_our_own_audit_logs(ruleset: RuleSet, tmp_path: Path) -> None:
    """crowdsecurity/modsecurity fires once per source for CRITICAL matches, repeats folded for 2 minutes."""
    log = Path(__file__).resolve().parents[1] / "data" / "modsecurity" / "serial-2.9.log"
    alerts, errors = detect(ruleset, log, tmp_path)
    assert errors == []
    found = [a for a in alerts if a.rule_name == "modsecurity_critical"]
    assert [(a.entity, a.count, a.suppressed) for a in found] == [({"source.ip": "127.0.0.1"}, 2, 1)]
