"""申请 → approved → 使用 → 撤销: the rules of the lifecycle, then one tenant through it on the real cloud."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloud.lifecycle import Lifecycle, LifecycleError, State
from cloud.usage import measure
from tests.cloud.helpers import cli, small_estate, write_small

NAME = "lifecycle"
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")


def test_the_lifecycle_refuses_shortcuts_and_self_approval(tmp_path: Path) -> None:
    lifecycle = Lifecycle(tmp_path / "tenants.jsonl", clock=lambda: datetime(2024, 3, 1, tzinfo=UTC))
    made = lifecycle.request("beta", "city.yaml", "wang", "社保系统上云")
    assert (made.id, made.state, made.requested_by) == ("REQ-0001", State.REQUESTED, "wang")
    with pytest.raises(
        LifecycleError, match="REQ-0001 is requested: it can move to approved, rejected, not active"
    ):
        lifecycle.move(made.id, State.ACTIVE, "li")
    with pytest.raises(LifecycleError, match="wang requested REQ-0001 and cannot approve it"):
        lifecycle.move(made.id, State.APPROVED, "wang")
    with pytest.raises(LifecycleError, match="tenant beta already has request REQ-0001"):
        lifecycle.request("beta", "city.yaml", "zhao", "again")
    lifecycle.move(made.id, State.REJECTED, "li", "no budget")
    again = lifecycle.request("beta", "city.yaml", "zhao", "resubmitted")
    assert again.id == "REQ-0002"
    assert [(r.id, r.state) for r in lifecycle.requests()] == [
        ("REQ-0001", "rejected"),
        ("REQ-0002", "requested"),
    ]
    with pytest.raises(LifecycleError, match="REQ-0001 is rejected: it can move to nothing"):
        lifecycle.move("REQ-0001", State.APPROVED, "li")


def test_a_tenant_is_requested_provisioned_and_revoked(
    cloud: str, admin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGOVOPS_CLOUD__LIFECYCLE", str(tmp_path / "tenants.jsonl"))
    estate = write_small(tmp_path, NAME, segment=112, exit_network="physnet-lifecycle")
    code, made = cli(
        "tenant",
        "request",
        "--estate",
        str(estate),
        "--tenant",
        "beta",
        "--reason",
        "社保系统上云",
        "--by",
        "wang",
    )
    assert (code, made["id"], made["state"]) == (0, "REQ-0001", "requested")
    code, refused = cli("tenant", "provision", "REQ-0001", "--cloud", cloud, "--yes")
    assert (code, refused["error"]) == (2, "REQ-0001 is requested: only an approved request is provisioned")
    code, _ = cli("tenant", "approve", "REQ-0001", "--by", "li")
    assert code == 0

    code, applied = cli("tenant", "provision", "REQ-0001", "--cloud", cloud, "--yes")
    assert (code, applied.get("failed")) == (0, 0), applied
    domain = admin.identity.find_domain(NAME)
    assert [p.name for p in admin.identity.projects(domain_id=domain.id)] == ["beta"]

    report = measure(small_estate(NAME), admin).as_dict()
    beta = next(t for t in report["tenants"] if t["tenant"] == "beta")
    assert {k: beta["used"][k] for k in ("networks", "subnets", "routers", "ports")} == {
        "networks": 1.0,
        "subnets": 2.0,
        "routers": 1.0,
        "ports": 0.0,
    }
    assert beta["used"]["cores"] is None  # no nova-api: compute use is not reported, not guessed
    assert report["idle"] == ["beta"]

    code, dry = cli("tenant", "revoke", "REQ-0001", "--cloud", cloud)
    assert (code, dry["dry_run"]) == (0, True)
    code, gone = cli("tenant", "revoke", "REQ-0001", "--cloud", cloud, "--yes", "--note", "department merged")
    assert (code, gone["failed"]) == (0, 0)
    assert list(admin.identity.projects(domain_id=domain.id)) == []
    code, listed = cli("tenant", "requests")
    assert [t["state"] for t in listed[0]["history"]] == ["requested", "approved", "active", "revoked"]
    assert listed[0]["history"][-1]["detail"] == {"deleted": gone["deleted"]}
