"""Assessments: overrides keep the assessed result visible beside the reviewer's, the SQL store
gives back exactly what it was given, and `diff` shows what re-assessment changed (整改)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from egovops.cli.common import Exit
from egovops.cli.main import app
from secops.compliance.assessment import (
    Assessment,
    CheckOutcome,
    Evidence,
    EvidenceKind,
    ItemAssessment,
    Override,
)
from secops.compliance.diff import IncomparableError, diff
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import Problem, Result, Risk, load_scoring_model, score
from secops.compliance.store import AssessmentStore, AssessmentStoreError

runner = CliRunner()
AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TELNET = Evidence(kind=EvidenceKind.COMMAND, source="host.remote.cleartext_services",
                  content="$ ss -Hltn 'sport = :23'\nLISTEN 0 64 10.9.0.7:23 0.0.0.0:*", collected_at=AT)


def weak_host(assessment_id: str = "a-1") -> Assessment:
    """Level 3, local: every item 符合 but remote management, which fails on a telnet listener and is
    overridden by a reviewer to 部分符合 / 中 (it listens only on the out-of-band management network)."""
    items = [ItemAssessment(item_id=i.id, result=Result.COMPLIANT) for i in load_catalogue(3).items]
    index = next(n for n, item in enumerate(items) if item.item_id == "L3-8.1.4.1-c")
    items[index] = ItemAssessment(
        item_id="L3-8.1.4.1-c", result=Result.NON_COMPLIANT, risk=Risk.HIGH,
        checks=(CheckOutcome(check="host.remote.cleartext_services", passed=False, evidence=(TELNET,)),),
        override=Override(result=Result.PARTIAL, risk=Risk.MEDIUM, reviewer="auditor-li", at=AT,
                          reason="telnet bound to the out-of-band network 10.9.0.0/24 only; compensating"),
    )
    return Assessment(id=assessment_id, system="政务服务网", level=3, target="local", created_at=AT,
                      catalogue_versions={"general-l3.yaml": "2026.11.1"}, scoring_version="2026.11.1",
                      items=tuple(items))


def test_override_wins_and_the_assessed_result_stays_visible() -> None:
    assessment = weak_host()
    item = next(i for i in assessment.items if i.item_id == "L3-8.1.4.1-c")
    assert (item.result, item.risk) == (Result.NON_COMPLIANT, Risk.HIGH)  # what the check found
    assert (item.final_result, item.final_risk) == (Result.PARTIAL, Risk.MEDIUM)  # what counts
    assert assessment.results()["L3-8.1.4.1-c"] is Result.PARTIAL
    assert assessment.failed_checks() == {"host.remote.cleartext_services"}
    assert assessment.problems() == [Problem(items=("L3-8.1.4.1-c",), risk=Risk.MEDIUM,
                                             description=item.override.reason if item.override else "")]
    # 安全计算环境 33.5/34 -> (900 + 98.5294) / 10 - 1.0 (medium) = 98.85, capped at 良 by the medium risk
    outcome = score(load_catalogue(3), assessment.results(), assessment.problems(), load_scoring_model())
    assert (outcome.score, outcome.band) == (98.85, "良")


def test_an_override_needs_a_reason_and_risks_fit_results() -> None:
    with pytest.raises(ValidationError, match="written reason"):
        Override(result=Result.COMPLIANT, reason="   ", reviewer="auditor-li", at=AT)
    with pytest.raises(ValidationError, match="a 符合 item carries no risk"):
        ItemAssessment(item_id="L3-8.1.4.1-a", result=Result.COMPLIANT, risk=Risk.LOW)
    twice = (ItemAssessment(item_id="L3-8.1.1.1-a", result=Result.COMPLIANT),) * 2
    with pytest.raises(ValidationError, match=r"items assessed twice: L3-8\.1\.1\.1-a"):
        Assessment(id="x", system="s", level=3, target="local", created_at=AT, catalogue_versions={},
                   scoring_version="v", items=twice)


def test_store_round_trip_replace_and_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'compliance.db'}"
    first, second = weak_host("a-1"), weak_host("a-2").model_copy(update={"created_at": AT.replace(hour=11)})
    model = load_scoring_model()
    outcome = score(load_catalogue(3), first.results(), first.problems(), model)
    with AssessmentStore(url) as store:
        store.save(first, outcome)
        store.save(second)
    with AssessmentStore(url) as store:  # a fresh connection reads the same thing back
        assert store.get("a-1") == first
        listed = [(s.id, s.score, s.band) for s in store.summaries()]
        assert listed == [("a-2", None, None), ("a-1", 98.85, "良")]
        store.save(first.model_copy(update={"target": "10.0.0.7"}))  # saving again replaces
        assert store.get("a-1").target == "10.0.0.7"
        assert [s.id for s in store.summaries(system="政务服务网")] == ["a-2", "a-1"]
        assert store.summaries(system="other") == []
        with pytest.raises(AssessmentStoreError, match="no assessment 'nope'"):
            store.get("nope")


def reassessed(base: Assessment, assessment_id: str, **results: tuple[Result, Risk | None]) -> Assessment:
    """`base` with some items' results (and risks) replaced, overrides dropped."""
    items = tuple(
        ItemAssessment(item_id=i.item_id, result=results[i.item_id][0], risk=results[i.item_id][1])
        if i.item_id in results else i
        for i in base.items
    )
    return base.model_copy(update={"id": assessment_id, "items": items})


def test_diff_lists_fixed_regressed_and_new_problems() -> None:
    before = reassessed(weak_host("a-1"), "a-1", **{
        "L3-8.1.4.3-a": (Result.NON_COMPLIANT, Risk.HIGH), "L3-8.1.4.2-b": (Result.PARTIAL, Risk.LOW)})
    after = reassessed(before, "a-2", **{
        "L3-8.1.4.3-a": (Result.COMPLIANT, None),  # fixed: audit enabled
        "L3-8.1.4.1-c": (Result.COMPLIANT, None),  # fixed: overridden 部分符合 -> 符合
        "L3-8.1.4.1-b": (Result.NON_COMPLIANT, Risk.MEDIUM),  # regressed and a new problem
        "L3-8.1.4.2-b": (Result.NON_COMPLIANT, Risk.LOW),  # regressed, problem not new
        "L3-8.1.1.1-a": (Result.NOT_APPLICABLE, None),  # out of scope now: neither
    })
    changes = diff(before, after)
    assert [(c.id, c.before, c.after) for c in changes.fixed] == [
        ("L3-8.1.4.1-c", Result.PARTIAL, Result.COMPLIANT),
        ("L3-8.1.4.3-a", Result.NON_COMPLIANT, Result.COMPLIANT),
    ]
    assert [c.id for c in changes.regressed] == ["L3-8.1.4.1-b", "L3-8.1.4.2-b"]
    assert [(c.id, c.after_risk) for c in changes.new_problems] == [("L3-8.1.4.1-b", Risk.MEDIUM)]
    with pytest.raises(IncomparableError, match="same level"):
        diff(before, before.model_copy(update={"level": 2}))


def test_diff_command_reads_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'compliance.db'}"
    before = weak_host("a-1")
    after = reassessed(before, "a-2", **{"L3-8.1.4.1-c": (Result.COMPLIANT, None)})
    with AssessmentStore(url) as store:
        store.save(before)
        store.save(after)
    result = runner.invoke(app, ["compliance", "diff", "a-1", "a-2", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["before"], body["after"], body["regressed"], body["new_problems"]) == ("a-1", "a-2", [], [])
    assert body["fixed"] == [{"id": "L3-8.1.4.1-c", "before": "部分符合", "after": "符合",
                              "before_risk": "中", "after_risk": None}]
    missing = runner.invoke(app, ["compliance", "diff", "a-1", "a-9", "--db", url, "--json"])
    assert missing.exit_code == Exit.STORE
    assert json.loads(missing.stdout)["error"].startswith("no assessment 'a-9'")
