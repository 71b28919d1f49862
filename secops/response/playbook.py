"""Running a plan's playbook with ansible-runner on this machine (local connection).

The playbook reports its results with `set_stats` (per_host: false); they come back as a dict. Ansible is
started from the interpreter's own environment, so the ansible-core installed beside egovops runs it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from secops.response.action import Plan
from secops.response.errors import ActionError

FAILURES = ("runner_on_failed", "runner_on_unreachable")
QUIET = {
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
}


def run_playbook(plan: Plan) -> dict[str, Any]:
    """Run `plan.playbook` with `plan.extravars`; its `set_stats` data, or ActionError naming the task."""
    import ansible_runner  # type: ignore[import-untyped]  # slow to import; only when acting

    if plan.playbook is None:
        raise ActionError(f"{plan.kind}: the plan has no playbook to run")
    bin_dir = str(Path(sys.executable).parent)
    inventory = {
        "all": {
            "hosts": {
                "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
            }
        }
    }
    with tempfile.TemporaryDirectory(prefix="egovops-ansible-") as data_dir:
        runner = ansible_runner.run(
            private_data_dir=data_dir,
            playbook=str(plan.playbook),
            inventory=inventory,
            extravars=plan.extravars,
            envvars={**QUIET, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "/usr/bin:/bin")])},
            quiet=True,
        )
        events: list[dict[str, Any]] = list(runner.events)
        output = runner.stdout.read() if runner.status != "successful" else ""
    if runner.status != "successful":
        raise ActionError(f"{plan.kind} ({plan.step}): {_failure(events, output, plan.playbook)}")
    for event in events:
        if event.get("event") == "playbook_on_stats":
            return dict(event.get("event_data", {}).get("artifact_data") or {})
    return {}


def _failure(events: list[dict[str, Any]], output: str, playbook: Path) -> str:
    for event in events:
        if event.get("event") in FAILURES:
            data = event.get("event_data", {})
            result = data.get("res", {})
            detail = result.get("stderr") or result.get("msg") or "failed"
            return f"task {data.get('task', '?')!r} of {playbook.name} failed: {str(detail).strip()}"
    last = [line.strip() for line in output.splitlines() if line.strip()][-3:]
    return f"{playbook.name} did not run: {' '.join(last) or 'no output from ansible-playbook'}"
