"""Host evidence: the playbooks stay in step with the catalogue and the rules, the rules judge raw task
output as intended, and the check-mode playbook runs on this machine (local connection) without changes."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from secops.compliance.evidence.host import (
    EVIDENCE_PLAYBOOK,
    HARDEN_PLAYBOOK,
    HostTarget,
    PlaybookRun,
    TaskRun,
    judge_host,
    load_host_rules,
    run_playbook,
)
from secops.compliance.loader import load_catalogue, load_checks

AT = datetime(2026, 11, 22, tzinfo=UTC)
RULES = load_host_rules()


def evidence_tasks() -> dict[str, dict[str, Any]]:
    play = yaml.safe_load(EVIDENCE_PLAYBOOK.read_text(encoding="utf-8"))[0]
    (block,) = play["tasks"]
    return {task["name"]: task for task in block["block"]}


def test_every_task_is_tagged_with_its_checks_and_exactly_their_items() -> None:
    items: defaultdict[str, set[str]] = defaultdict(set)
    for level in (2, 3):
        for item in load_catalogue(level, cloud=True).items:
            for check in item.checks:
                items[check].add(item.id)
    served: defaultdict[str, set[str]] = defaultdict(set)
    for check, rule in RULES.checks.items():
        served[rule.task].add(check)
    tasks = evidence_tasks()
    assert set(tasks) == set(served)
    for name, task in tasks.items():
        checks = served[name]
        assert set(task["tags"]) == checks | {i for c in checks for i in items[c]}, name
        assert (task["changed_when"], task["failed_when"]) == (False, False)


def test_rules_name_known_host_checks() -> None:
    known = {name for name, check in load_checks().items() if check.source == "host"}
    assert set(RULES.checks) <= known
    assert known == set(RULES.checks)


def run_of(**outputs: str) -> PlaybookRun:
    run = PlaybookRun(playbook="host.yml", host="h1", check=True, facts={"ansible_hostname": "h1"})
    for name, stdout in outputs.items():
        run.tasks[name] = TaskRun(name, f"cmd-{name}", stdout, "", changed=False, failed=False)
    return run


@pytest.mark.parametrize(("task", "stdout", "check", "passed"), [
    ("sshd", "/etc/ssh/sshd_config:PermitRootLogin yes", "host.ssh.root_login", False),
    ("sshd", "/etc/ssh/sshd_config:PermitRootLogin prohibit-password", "host.ssh.root_login", True),
    ("login_defs", "/etc/login.defs:PASS_MAX_DAYS\t99999", "host.auth.password_expiry", False),
    ("login_defs", "/etc/login.defs:PASS_MAX_DAYS\t90", "host.auth.password_expiry", True),
    ("lockout", "/etc/pam.d/common-auth:auth required pam_faillock.so preauth\n"
                "/etc/security/faillock.conf:deny = 5", "host.auth.login_lockout", True),
    ("lockout", "/etc/pam.d/common-auth:auth required pam_faillock.so preauth deny=50",
     "host.auth.login_lockout", False),
    ("shadow", "empty password: guest\n30 shadow entries", "host.auth.empty_passwords", False),
    ("accounts", "account root uid=0 shell=/bin/sh\nduplicate uids: 0 \nduplicate names: ",
     "host.auth.unique_accounts", False),
    ("accounts", "account guest uid=1001 shell=/bin/bash\nduplicate uids: \nduplicate names: ",
     "host.accounts.default", False),
    ("accounts", "account games uid=5 shell=/usr/sbin/nologin\nduplicate uids: \nduplicate names: ",
     "host.accounts.default", True),
    ("listening", "tcp LISTEN 0 64 0.0.0.0:23 0.0.0.0:* users:((\"in.telnetd\",pid=9,fd=3))",
     "host.remote.cleartext_services", False),
    ("listening", "tcp LISTEN 0 128 0.0.0.0:2223 0.0.0.0:* users:((\"sshd\",pid=9,fd=3))",
     "host.ports.high_risk", True),
    ("updates", "pending security updates: 3\nlibssl3/stable-security", "host.patch.level", False),
    ("updates", "apt: not available", "host.patch.level", False),
])  # fmt: skip
def test_rules_judge_raw_output(task: str, stdout: str, check: str, passed: bool) -> None:
    outcome = next(o for o in judge_host(run_of(**{task: stdout}), RULES, AT) if o.check == check)
    assert outcome.passed is passed
    assert outcome.evidence[0].content == f"$ cmd-{task}\n{stdout}"
    assert outcome.evidence[0].source == f"h1: {task}"
    assert (len(outcome.evidence) == 2) is (not passed)  # a note says what was not met


def test_check_mode_run_on_this_machine_reads_every_task_and_changes_nothing() -> None:
    run = run_playbook(EVIDENCE_PLAYBOOK, HostTarget(), check=True)
    assert set(run.tasks) == set(evidence_tasks())
    assert (run.changed, run.failed) == ([], [])
    assert run.facts["ansible_hostname"]
    checks = {o.check for o in judge_host(run, RULES, AT)}
    assert checks == set(RULES.checks)


def test_harden_playbook_only_changes_under_its_root() -> None:
    play = yaml.safe_load(HARDEN_PLAYBOOK.read_text(encoding="utf-8"))[0]
    for task in play["tasks"]:
        (module,) = (k for k in task if k.startswith("ansible.builtin."))
        path = task[module].get("path") or task[module].get("dest")
        assert path.startswith(("{{ root }}", "{{ sshd_config }}")), task["name"]
