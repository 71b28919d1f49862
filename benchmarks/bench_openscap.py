"""egovops's host checks beside OpenSCAP (Debian `openscap-scanner` with the SCAP Security Guide content
of `ssg-debian`) on the same hosts: runtime, and for the checks both cover whether the verdicts agree.

Three hosts: this machine (/), the weak range host of tests/compliance (its files under a temporary root),
and that host after playbooks/compliance/harden.yml. ssg-debian 0.1.65 ships content for Debian 10 and 11
only; its XCCDF rules are `notapplicable` on Debian 12 (platform CPE), so the SSG OVAL definitions behind
the overlapping rules are evaluated directly (`oscap oval eval --id`, one run each), with
OSCAP_PROBE_ROOT for the temporary roots (as oscap-chroot does).

    .venv/bin/python benchmarks/bench_openscap.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibration import calibrate
from secops.compliance.evidence.host import (
    EVIDENCE_PLAYBOOK,
    HARDEN_PLAYBOOK,
    HostTarget,
    judge_host,
    load_host_rules,
    run_playbook,
)
from tests.compliance.weak_host import write_host_files

SSG_OVAL = Path("/usr/share/xml/scap/ssg/content/ssg-debian11-oval.xml")
OVERLAP = {
    "host.ssh.root_login": ["sshd_disable_root_login"],
    "host.auth.password_expiry": ["accounts_maximum_age_login_defs"],
    "host.auth.empty_passwords": ["no_empty_passwords_etc_shadow"],
    "host.auth.password_complexity": ["accounts_password_pam_pwquality"],
    "host.auth.login_lockout": ["accounts_password_pam_faillock"],
    "host.auth.session_timeout": ["sshd_set_idle_timeout"],
    "host.files.permissions": ["file_permissions_etc_shadow", "file_permissions_etc_passwd"],
    "host.audit.enabled": ["service_auditd_enabled"],
    "host.audit.rules": ["audit_rules_usergroup_modification", "audit_rules_login_events"],
    "host.audit.forwarding": ["rsyslog_remote_loghost"],
}
"""Our check → the SSG OVAL definitions covering the same ground (all must be true for a pass)."""
VERDICT = re.compile(r"^Definition oval:ssg-(\S+):def:1: (\w+)", re.MULTILINE)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ours(root: str) -> tuple[dict[str, bool], dict[str, float]]:
    wall, cpu = time.perf_counter(), children_cpu() + time.process_time()
    run = run_playbook(EVIDENCE_PLAYBOOK, HostTarget(root=root), check=True)
    verdicts = {o.check: o.passed for o in judge_host(run, load_host_rules(), datetime.now(UTC))}
    spent = {"wall_s": round(time.perf_counter() - wall, 2),
             "cpu_s": round(children_cpu() + time.process_time() - cpu, 2)}  # fmt: skip
    return verdicts, spent


def openscap(oscap: str, root: str) -> tuple[dict[str, str], dict[str, float]]:
    env = {**os.environ, **({"OSCAP_PROBE_ROOT": root} if root else {})}
    wall, cpu = time.perf_counter(), children_cpu()
    verdicts: dict[str, str] = {}
    for definition in sorted({d for ds in OVERLAP.values() for d in ds}):
        result = subprocess.run(
            [oscap, "oval", "eval", "--skip-valid", "--id", f"oval:ssg-{definition}:def:1", str(SSG_OVAL)],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        found = VERDICT.search(result.stdout)
        verdicts[definition] = found.group(2) if found else f"no verdict (exit {result.returncode})"
    spent = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(children_cpu() - cpu, 2)}
    return verdicts, spent


def compare(host: str, root: str, oscap: str) -> dict[str, Any]:
    mine, our_time = ours(root)
    theirs, their_time = openscap(oscap, root)
    rows: dict[str, dict[str, Any]] = {}
    for check, definitions in OVERLAP.items():
        scap = [theirs[d] for d in definitions]
        definite = all(v in ("true", "false") for v in scap)
        agree = mine[check] == all(v == "true" for v in scap) if definite else None
        rows[check] = {"egovops": "pass" if mine[check] else "fail",
                       "openscap": dict(zip(definitions, scap, strict=True)), "agree": agree}  # fmt: skip
    judged = [row["agree"] for row in rows.values() if row["agree"] is not None]
    return {"host": host, "egovops": our_time, "openscap": their_time,
            "agree": f"{sum(judged)}/{len(judged)} (OpenSCAP without a verdict: {len(rows) - len(judged)})",
            "checks": rows}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    oscap = shutil.which("oscap")
    if oscap is None or not SSG_OVAL.exists():
        sys.exit("needs OpenSCAP: apt-get install -y openscap-scanner ssg-debian")
    figures: dict[str, Any] = {"calibration_s": round(calibrate(), 3)}
    hosts = [compare("this machine", "", oscap)]
    with tempfile.TemporaryDirectory(prefix="egovops-bench-openscap-") as folder:
        root = Path(folder) / "root"
        write_host_files(root, "127.0.0.1")
        hosts.append(compare("weak range host", str(root), oscap))
        run_playbook(HARDEN_PLAYBOOK, HostTarget(root=str(root)), check=False,
                     extravars={"sshd_reload_command": "", "audit_load_command": ""})  # fmt: skip
        hosts.append(compare("weak host, hardened", str(root), oscap))
    figures["hosts"] = hosts
    figures["calibration_after_s"] = round(calibrate(), 3)
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    print(f"calibration {figures['calibration_s']} s (after: {figures['calibration_after_s']} s)")
    for host in hosts:
        print(f"\n{host['host']}: egovops {host['egovops']}, openscap {host['openscap']}")
        print(f"  agree {host['agree']}")
        for check, row in host["checks"].items():
            mark = {True: "  ", False: "≠ ", None: "? "}[row["agree"]]
            print(f"  {mark}{check:32} {row['egovops']:5} {row['openscap']}")


if __name__ == "__main__":
    main()
