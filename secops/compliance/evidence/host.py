"""Host evidence: ansible-runner runs playbooks/compliance/host.yml in check mode against this machine
(local connection) or a host over SSH, and each task's raw output is judged by `host_rules.yaml`.

The same runner applies playbooks/compliance/harden.yml (real changes) and reports it in the one result
shape of the house: changed, failed, and what each task did.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind
from secops.compliance.evidence.conditions import Conditions, RuleSpec, judge, pattern, read_rules
from secops.response.playbook import QUIET

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks" / "compliance"
EVIDENCE_PLAYBOOK = PLAYBOOKS / "host.yml"
HARDEN_PLAYBOOK = PLAYBOOKS / "harden.yml"
RULES = Path(__file__).with_name("host_rules.yaml")
FACTS = "Gathering Facts"
REMOTE_TMP = "/tmp/.egovops-ansible"
"""Ansible's scratch directory on an SSH target: under /tmp, not in the login user's home."""


class HostRule(Conditions):
    task: str = Field(min_length=1)
    not_judged: str | None = Field(None, description="output that says the check cannot decide (regex)")


class HostRules(RuleSpec):
    schema_: Literal[1] = Field(alias="schema")
    version: str
    checks: dict[str, HostRule]


class HostTarget(BaseModel):
    """Where the playbooks run: `local`, or a host over SSH with a key or a password."""

    model_config = ConfigDict(frozen=True)

    host: str = "local"
    user: str = "root"
    port: int = Field(22, ge=1, le=65535)
    password: SecretStr | None = None
    key_file: Path | None = None
    root: str = Field("", description="read (and harden) files under this directory instead of /")

    @property
    def local(self) -> bool:
        return self.host == "local"

    def inventory(self) -> dict[str, Any]:
        if self.local:
            host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
            return {"all": {"hosts": {"localhost": host}}}
        variables: dict[str, Any] = {
            "ansible_host": self.host,
            "ansible_port": self.port,
            "ansible_user": self.user,
            "ansible_python_interpreter": "auto_silent",
            "ansible_remote_tmp": REMOTE_TMP,
        }
        if self.password is not None:  # paramiko takes a password without sshpass
            variables |= {
                "ansible_connection": "paramiko",
                "ansible_password": self.password.get_secret_value(),
            }
        else:
            variables |= {"ansible_connection": "ssh"}
            if self.key_file is not None:
                variables["ansible_ssh_private_key_file"] = str(self.key_file)
        return {"all": {"hosts": {self.host: variables}}}


class HostError(RuntimeError):
    """The playbook could not run on the target (unreachable, refused login, no ansible)."""


@dataclass
class TaskRun:
    name: str
    command: str
    stdout: str
    stderr: str
    changed: bool
    failed: bool


@dataclass
class PlaybookRun:
    """The house result shape for a playbook run: changed, failed, and each task's output."""

    playbook: str
    host: str
    check: bool
    tasks: dict[str, TaskRun] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        return [t.name for t in self.tasks.values() if t.changed]

    @property
    def failed(self) -> list[str]:
        return [t.name for t in self.tasks.values() if t.failed]


def run_playbook(playbook: Path, target: HostTarget, *, check: bool,
                 extravars: dict[str, Any] | None = None) -> PlaybookRun:  # fmt: skip
    """Run `playbook` on `target` (`--check` when `check`); HostError when the host cannot be reached."""
    import ansible_runner  # type: ignore[import-untyped]  # slow to import; only when collecting

    bin_dir = str(Path(sys.executable).parent)
    env = {**QUIET, "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_PIPELINING": "True",
           "ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "True",  # the events then carry each raw task's command
           "ANSIBLE_PARAMIKO_HOST_KEY_AUTO_ADD": "True", "ANSIBLE_PARAMIKO_LOOK_FOR_KEYS": "False",
           "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "/usr/bin:/bin")])}  # fmt: skip
    variables = {"compliance_root": target.root, **(extravars or {})}
    with tempfile.TemporaryDirectory(prefix="egovops-compliance-") as data_dir:
        runner = ansible_runner.run(
            private_data_dir=data_dir, playbook=str(playbook), inventory=target.inventory(),
            extravars=variables, envvars=env, cmdline="--check" if check else None, quiet=True,
        )  # fmt: skip
        events: list[dict[str, Any]] = list(runner.events)
        output = runner.stdout.read()
    run = PlaybookRun(playbook=playbook.name, host=target.host, check=check)
    for event in events:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_unreachable":
            message = str(data.get("res", {}).get("msg", "")).strip()
            raise HostError(
                f"{target.host}:{target.port}: cannot log in as {target.user}: {message} "
                "(check the address, --ssh-user and the key or password)"
            )
        if event.get("event") not in ("runner_on_ok", "runner_on_failed"):
            continue
        result = data.get("res", {})
        if data.get("task") == FACTS:
            run.facts = result.get("ansible_facts", {})
            continue
        command = result.get("cmd") or str(data.get("task_args", "")).removeprefix("_raw_params=")
        run.tasks[data.get("task", "?")] = TaskRun(
            name=data.get("task", "?"),
            command=" ".join(command) if isinstance(command, list) else str(command).strip(),
            stdout=_text(result.get("stdout")), stderr=_text(result.get("stderr")),
            changed=bool(result.get("changed")), failed=event.get("event") == "runner_on_failed",
        )  # fmt: skip
    if runner.status != "successful" and not run.tasks:
        last = [line.strip() for line in output.splitlines() if line.strip()][-3:]
        raise HostError(f"{playbook.name} did not run on {target.host}: {' '.join(last) or 'no output'}")
    return run


def load_host_rules(path: Path = RULES) -> HostRules:
    return read_rules(path, HostRules)


def judge_host(run: PlaybookRun, rules: HostRules, at: datetime) -> Iterator[CheckOutcome]:
    """One outcome per check whose task ran; the evidence is the task's command and raw output."""
    host = str(run.facts.get("ansible_hostname") or run.host)
    for check, rule in rules.checks.items():
        task = run.tasks.get(rule.task)
        if task is None:
            continue
        raw = f"$ {task.command}\n{task.stdout}" + (f"\n{task.stderr}" if task.stderr else "")
        if rule.not_judged and pattern(rule.not_judged).search(task.stdout):
            said = Evidence(kind=EvidenceKind.COMMAND, source=f"{host}: {task.name}", collected_at=at,
                            content=raw)  # fmt: skip
            yield CheckOutcome(check=check, passed=False, evidence=(said,), judged=False)
            continue
        verdict = judge(rule, task.stdout)
        evidence = [
            Evidence(
                kind=EvidenceKind.COMMAND,
                source=f"{host}: {task.name}",
                collected_at=at,
                content=raw,
            )
        ]
        if verdict.failures:
            evidence.append(
                Evidence(
                    kind=EvidenceKind.NOTE,
                    source=check,
                    collected_at=at,
                    content="not met: " + "; ".join(verdict.failures),
                )
            )
        yield CheckOutcome(check=check, passed=not verdict.failures, evidence=tuple(evidence))


def collect_host(target: HostTarget, at: datetime, rules: HostRules) -> list[CheckOutcome]:
    return list(judge_host(run_playbook(EVIDENCE_PLAYBOOK, target, check=True), rules, at))


def _text(output: object) -> str:
    """Task output with plain newlines: `raw` over SSH runs in a terminal, which ends lines with CRLF."""
    return str(output or "").replace("\r\n", "\n")
