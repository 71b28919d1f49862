"""Our `egovops_absence` correlations load through `RuleSet.load` beside Sigma's own types."""

from __future__ import annotations

from pathlib import Path

from secops.detection.correlate_absence import AbsenceRule
from secops.detection.engine import Engine
from secops.detection.ruleset import BUILTIN_RULES, RuleSet, check

ABSENCE = """\
title: WAF hit not confirmed by the IDS
name: waf_unconfirmed
level: low
correlation:
  type: egovops_absence
  rules: [egovops_waf_match, egovops_ids_alert]
  group-by: [source.ip]
  timespan: 5m
---
title: Broken absence
correlation:
  type: egovops_absence
  rules: [only_one]
  timespan: 5m
---
title: Unknown correlation type
correlation:
  type: no_such_type
  rules: [egovops_waf_match]
"""


def test_absence_loads_and_bad_documents_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "absence.yml"
    path.write_text(ABSENCE)
    ruleset = RuleSet.load([BUILTIN_RULES, path])
    absences = [c for c in ruleset.correlations if isinstance(c, AbsenceRule)]
    assert [(a.name, a.rules, a.timespan, a.group_by) for a in absences] == [
        ("waf_unconfirmed", ("egovops_waf_match", "egovops_ids_alert"), 300.0, ("source.ip",))
    ]
    reasons = [f.reason for f in ruleset.failed if f.path == str(path)]
    assert any("needs the rule A and at least one rule B" in r for r in reasons)
    assert any("correlation type" in r or "no_such_type" in r for r in reasons), reasons
    # The engine accepts it: the absence resolves its rule names against the loaded base rules.
    engine = Engine(ruleset)
    assert not [f for f in engine.failed if f.title == "WAF hit not confirmed by the IDS"]
    report = check([path])
    assert report["failed"] >= 2
