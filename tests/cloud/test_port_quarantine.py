"""`egovops respond port-quarantine` on the real Neutron: the port holding the incident's address goes onto
the deny-all group after a second person approves, and undo gives it back the groups it had."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.quarantine import QUARANTINE
from egovops.cli.common import Exit
from secops.incidents import CaseStore, open_cases
from tests.incidents.helpers import FakeClock
from tests.response.helpers import cli, open_incident, write_config

ADDRESS = "10.77.0.20"


@pytest.fixture
def cases(tmp_path: Path) -> Iterator[CaseStore]:
    """The case store `write_config` points egovops at."""
    store = open_cases(f"sqlite:///{tmp_path / 'egovops.db'}", clock=FakeClock())
    yield store
    store.close()


@pytest.fixture
def port(admin: Any) -> Iterator[Any]:
    """A port on a network of its own, with two security groups of the admin project."""
    project = admin.current_project_id
    network = admin.network.create_network(name="pq-net", project_id=project)
    admin.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.77.0.0/24", project_id=project)
    groups = [admin.network.create_security_group(name=f"pq-{n}", project_id=project) for n in ("web", "ssh")]
    made = admin.network.create_port(
        network_id=network.id,
        fixed_ips=[{"ip_address": ADDRESS}],
        security_group_ids=[g.id for g in groups],
        project_id=project,
    )
    yield made
    admin.network.delete_port(made.id)
    admin.network.delete_network(network.id)
    for group in groups:
        admin.network.delete_security_group(group.id)


def groups_of(admin: Any, port_id: str) -> list[str]:
    return sorted(admin.network.get_port(port_id).security_group_ids)


def test_quarantine_and_undo(cloud: str, admin: Any, port: Any, cases: CaseStore, tmp_path: Path) -> None:
    number = str(open_incident(cases, ADDRESS))
    config = write_config(tmp_path, {"port-quarantine": {"cloud": cloud}})
    kinds = {k["kind"]: k for k in cli(config, "respond", "kinds")}
    assert kinds["port-quarantine"]["impact"] == "high"
    before = groups_of(admin, port.id)

    dry = cli(config, "respond", "port-quarantine", "--incident", number, "--dry-run")
    assert any(port.id in change and QUARANTINE in change for change in dry["changes"])
    assert groups_of(admin, port.id) == before  # a dry run changes nothing

    pending = cli(config, "respond", "port-quarantine", "--incident", number, "--as", "alice")
    assert pending["state"] == "pending" and groups_of(admin, port.id) == before
    done = cli(config, "respond", "approve", str(pending["id"]), "--as", "bob")
    assert done["state"] == "executed"
    quarantine = admin.network.find_security_group(QUARANTINE, project_id=port.project_id)
    assert groups_of(admin, port.id) == [quarantine.id]
    assert quarantine.security_group_rules == []  # deny-all: not even Neutron's default egress rules
    assert done["outputs"]["previous"] == before

    undone = cli(config, "respond", "undo", str(pending["id"]), "--as", "bob")
    assert undone["state"] == "undone"
    assert groups_of(admin, port.id) == before


def test_undo_refuses_a_port_changed_by_hand(
    cloud: str, admin: Any, port: Any, cases: CaseStore, tmp_path: Path
) -> None:
    number = str(open_incident(cases, ADDRESS))
    config = write_config(tmp_path, {"port-quarantine": {"cloud": cloud}})
    pending = cli(config, "respond", "port-quarantine", "--incident", number, "--as", "alice")
    cli(config, "respond", "approve", str(pending["id"]), "--as", "bob")
    by_hand = sorted(port.security_group_ids)[:1]
    admin.network.update_port(port.id, security_group_ids=by_hand)

    refused = cli(config, "respond", "undo", str(pending["id"]), "--as", "bob", code=Exit.PARTIAL)
    assert "no longer on the quarantine group" in refused["error"]
    assert groups_of(admin, port.id) == by_hand


def test_an_address_no_port_holds_is_refused(cloud: str, cases: CaseStore, tmp_path: Path) -> None:
    number = str(open_incident(cases, "10.78.0.9"))
    config = write_config(tmp_path, {"port-quarantine": {"cloud": cloud}})
    refused = cli(config, "respond", "port-quarantine", "--incident", number, "--dry-run", code=Exit.USAGE)
    assert "no Neutron port holds 10.78.0.9" in refused["error"]
