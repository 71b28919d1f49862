"""Issue 8's end-to-end test: a deliberately weak range host (root login by password, no lockout, no
audit) behind a router with a default SNMP community is graded 差 with 不符合 on exactly the affected
items; harden.yml fixes the host, the router is corrected, and re-assessment shows those items fixed and
a better band. The host is a real sshd in a namespace; every file changed lives in the test's directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compliance.weak_host import ROOT_PASSWORD, WeakHost, weak_host

DATA = Path(__file__).with_name("data")
WEAK_ITEMS = {"L3-8.1.4.1-b", "L3-8.1.4.2-b", "L3-8.1.4.3-a", "L3-8.1.4.3-b"}
"""lockout (+ session timeout) · root login and the SNMP community · audit enabled · audit rules."""
WEAK_CHECKS = {
    "host.ssh.root_login", "host.auth.login_lockout", "host.auth.session_timeout", "host.audit.enabled",
    "host.audit.rules", "host.audit.protected", "net.snmp.community",
}  # fmt: skip
STILL_OPEN = {"host.auth.mfa", "host.patch.level"}
"""Not what harden.yml fixes: key-plus-password logins, and this machine's own pending updates."""
BANDS = ("优", "良", "中", "差")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeakHost]:
    with weak_host(tmp_path_factory.mktemp("weak-host") / "root") as lab:
        yield lab


def assess(host: WeakHost, router: str, workdir: Path) -> dict[str, Any]:
    result = host.egovops(
        "compliance", "assess", *host.target(), "--router-config", str(DATA / router), "--system",
        "政务服务网-测试", "--level", "3", "--no-soc", "--db", f"sqlite:///{workdir / 'assess.db'}", "--json",
        cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    return dict(json.loads(result.stdout))


def failed_checks(report: dict[str, Any]) -> set[str]:
    return {e["check"] for item in report["items"] for e in item["evidence"] if e["passed"] is False}


def test_weak_host_is_graded_poor_then_hardened(host: WeakHost, tmp_path: Path) -> None:
    before = assess(host, "weak-r1.cfg", tmp_path)
    results = {item["id"]: item for item in before["items"]}
    assert {i for i, item in results.items() if item["result"] == "不符合"} == WEAK_ITEMS
    assert failed_checks(before) - STILL_OPEN == WEAK_CHECKS
    assert before["band"] == "差"
    assert {p["rule"] for p in before["high_risks"]} == {"HR-CE-01", "HR-CE-03"}
    assert results["L3-8.1.4.2-b"]["risk"] == "高"
    root_login = next(e for e in results["L3-8.1.4.2-b"]["evidence"] if e["check"] == "host.ssh.root_login")
    assert "PermitRootLogin yes" in root_login["content"]  # the raw output of the task
    assert results["L3-8.1.6.1-a"]["manual"] and results["L3-8.1.6.1-a"]["result"] == "不适用"
    assert before["diff"] is None

    hardened = host.egovops(
        "compliance", "harden", *host.target(), "--var", "sshd_reload_command=", "--var",
        "audit_load_command=", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert hardened.returncode == 0, hardened.stderr + hardened.stdout
    assert json.loads(hardened.stdout)["failed"] == []
    sshd_config = (host.root / "etc/ssh/sshd_config").read_text()
    assert "PermitRootLogin no" in sshd_config and "PermitRootLogin yes" not in sshd_config

    after = assess(host, "fixed-r1.cfg", tmp_path)
    assert failed_checks(after) <= STILL_OPEN
    assert not [item for item in after["items"] if item["result"] == "不符合"]
    assert after["high_risks"] == []
    assert BANDS.index(after["band"]) < BANDS.index("差")
    assert after["diff"]["before"] == before["id"]
    assert {change["id"] for change in after["diff"]["fixed"]} >= WEAK_ITEMS
    assert after["diff"]["regressed"] == [] and after["diff"]["new_problems"] == []


def test_a_password_from_the_sealed_secrets_logs_in(host: WeakHost, tmp_path: Path) -> None:
    """Password logins go through paramiko (no sshpass); the password never appears on a command line."""
    sealed = host.egovops("secrets", "set", "range-root", cwd=tmp_path, stdin=ROOT_PASSWORD)
    assert sealed.returncode == 0, sealed.stderr
    base = ["compliance", "assess", "--target", host.server.address, "--host-root", str(host.root),
            "--system", "档案系统", "--level", "2", "--no-soc", "--db", f"sqlite:///{tmp_path / 'a.db'}",
            "--json"]  # fmt: skip
    result = host.egovops(*base, "--ssh-password-secret", "range-root", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout)
    item = next(i for i in report["items"] if i["id"] == "L2-7.1.4.2-b")
    checked = [e for e in item["evidence"] if e["check"] == "host.ssh.root_login"]
    (evidence,) = [e for e in checked if e["kind"] == "command"]
    assert evidence["source"].endswith(": sshd")
    assert f"{host.root}/etc/ssh/sshd_config:PermitRootLogin" in evidence["content"]
    unknown = host.egovops(*base, "--ssh-password-secret", "no-such-secret", cwd=tmp_path)
    assert unknown.returncode == 3
    assert "no secret 'no-such-secret'" in json.loads(unknown.stdout)["error"]
