"""host.accounts.stale and host.install.minimal: the rules on raw output, and the check-mode playbook's
tasks on a disposable root (its shadow file and dpkg database) with the grading that follows."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from secops.compliance.assessment import CheckOutcome, ItemAssessment
from secops.compliance.evidence.grading import PENDING, grade, load_grading
from secops.compliance.evidence.host import (
    EVIDENCE_PLAYBOOK,
    HostTarget,
    PlaybookRun,
    judge_host,
    load_host_rules,
    run_playbook,
)
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import Result, load_scoring_model
from tests.compliance.test_host_evidence import run_of

AT = datetime(2026, 11, 22, tzinfo=UTC)
RULES = load_host_rules()


def outcome(task: str, stdout: str, check: str) -> CheckOutcome:
    return next(o for o in judge_host(run_of(**{task: stdout}), RULES, AT) if o.check == check)


@pytest.mark.parametrize(("stdout", "passed"), [
    ("account ops idle_days=12 (last login Sun Nov 10 09:00:00 +0000 2026)\n"
     "login accounts: 1; longest idle: 12 days", True),
    ("account ops idle_days=12 (last login ...)\n"
     "account olduser idle_days=400 (never logged in; password set 19900)\n"
     "login accounts: 2; longest idle: 400 days", False),
    ("login accounts: 0; longest idle: 0 days", True),
])  # fmt: skip
def test_stale_accounts_rule(stdout: str, passed: bool) -> None:
    result = outcome("stale_accounts", stdout, "host.accounts.stale")
    assert result.passed is passed and result.judged
    if not passed:
        note = result.evidence[1].content
        assert "'login accounts: 2; longest idle: 400 days' outside [None, 90.0]" in note


@pytest.mark.parametrize(("stdout", "passed", "judged"), [
    ("installed: 3; baseline: /etc/b.list\npackages outside the baseline: 0\n", True, True),
    ("installed: 4; baseline: /b\npackages outside the baseline: 1\ntelnetd", False, True),
    ("no package baseline at /etc/egovops/package-baseline.list: not judged", False, False),
])  # fmt: skip
def test_package_baseline_rule(stdout: str, passed: bool, judged: bool) -> None:
    result = outcome("packages", stdout, "host.install.minimal")
    assert (result.passed, result.judged) == (passed, judged)
    assert result.evidence[0].content == f"$ cmd-packages\n{stdout}"


def disposable_root(root: Path, *, stale: bool, baseline: list[str] | None) -> None:
    today = int(time.time() // 86400)
    changed = today - (400 if stale else 5)
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nops:x:1000:1000::/home/ops:/bin/bash\n"
                                     "svc:x:999:999::/:/usr/sbin/nologin\n")  # fmt: skip
    old = today - 900
    (root / "etc/shadow").write_text(f"root:*:{old}:0:99999:7:::\n"
                                     f"ops:$y$j9T$abc:{changed}:0:90:7:::\nsvc:!:{old}::::::\n")  # fmt: skip
    (root / "var/lib/dpkg").mkdir(parents=True)
    status = "".join(f"Package: {name}\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n"
                     for name in ("bash", "openssh-server", "telnetd"))  # fmt: skip
    (root / "var/lib/dpkg/status").write_text(status)
    if baseline is not None:
        (root / "etc/egovops").mkdir()
        (root / "etc/egovops/package-baseline.list").write_text("# our build\n" + "\n".join(baseline) + "\n")


def graded(root: Path) -> tuple[PlaybookRun, dict[str, ItemAssessment]]:
    run = run_playbook(EVIDENCE_PLAYBOOK, HostTarget(root=str(root)), check=True)
    outcomes = list(judge_host(run, RULES, AT))
    items = grade(load_catalogue(3, cloud=False), outcomes, load_scoring_model(), load_grading(), AT)
    return run, {i.item_id: i for i in items}


def test_playbook_on_a_weak_root_finds_the_stale_account_and_the_extra_package(tmp_path: Path) -> None:
    disposable_root(tmp_path, stale=True, baseline=["bash", "openssh-server"])
    run, items = graded(tmp_path)
    stale, minimal = items["L3-8.1.4.2-c"], items["L3-8.1.4.4-a"]
    assert "account ops idle_days=400 (never logged in; password set" in run.tasks["stale_accounts"].stdout
    assert "login accounts: 1; longest idle: 400 days" in run.tasks["stale_accounts"].stdout
    assert stale.result == Result.NON_COMPLIANT
    packages = run.tasks["packages"].stdout
    assert "packages outside the baseline: 1\ntelnetd" in packages
    assert minimal.result == Result.NON_COMPLIANT


def test_playbook_on_a_tidy_root_passes_and_without_baseline_says_not_judged(tmp_path: Path) -> None:
    disposable_root(tmp_path / "tidy", stale=False, baseline=["bash", "openssh-server", "telnetd"])
    run, items = graded(tmp_path / "tidy")
    assert items["L3-8.1.4.2-c"].result == Result.COMPLIANT
    assert "packages outside the baseline: 0" in run.tasks["packages"].stdout
    disposable_root(tmp_path / "bare", stale=False, baseline=None)
    minimal = graded(tmp_path / "bare")[1]["L3-8.1.4.4-a"]
    assert minimal.result == Result.NOT_APPLICABLE
    assert minimal.evidence[0].content == f"{PENDING} (host.install.minimal not judged)"
    assert "no package baseline at " in minimal.evidence[1].content
