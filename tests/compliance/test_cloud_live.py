"""The cloud checks on the live cloud (real Keystone and Neutron): the small city applied by the reconciler
is 符合; a security group opening SSH to the world and a network shared with every project, made behind
egovops's back, make exactly the items citing `cloud.sg.mgmt_open` and `cloud.tenant.isolation` 不符合;
removing them makes those items 符合 again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from egovops.cli.main import app
from secops.compliance.loader import load_catalogue
from tests.cloud.helpers import cli, write_small
from tests.components import missing
from tests.components.openstack import INSTALL, OpenStackServers, openstack_servers

# Its own Keystone/Neutron/Glance (this module's own session fixture, not the suite's): the live checks
# also judge what any project shares with everyone, so the cloud tests' leftovers must not be in view.
__all__ = ["openstack_servers"]

NAME = "dengbao"
CHANGED = {"cloud.sg.mgmt_open", "cloud.tenant.isolation"}
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
runner = CliRunner()


@pytest.fixture
def applied(
    openstack_servers: OpenStackServers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Any]]:
    """The small city as NAME on the live cloud (its own VLAN and flat network), and an admin connection."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(openstack_servers.clouds_yaml))
    monkeypatch.setenv("EGOVOPS_RESPONSE__AUDIT_LOG", str(tmp_path / "audit.log"))
    estate = write_small(tmp_path, NAME, segment=113, exit_network="physnet-dengbao")
    code, report = cli(
        "tenant", "apply", "--estate", str(estate), "--cloud", openstack_servers.cloud, "--yes"
    )
    assert code == 0, report
    conn = openstack_servers.connect()
    yield estate, conn
    conn.close()


def assess(estate: Path, cloud: str, db: Path) -> dict[str, Any]:
    result = runner.invoke(app, [
        "compliance", "assess", "--system", "测试市政务云", "--level", "3", "--no-host", "--no-soc",
        "--estate", str(estate), "--os-cloud", cloud, "--db", f"sqlite:///{db}", "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def cloud_evidence(report: dict[str, Any], check: str) -> dict[str, Any]:
    return next(e for i in report["items"] for e in i["evidence"] if e["check"] == check)


def test_live_cloud_findings_fail_exactly_their_items_and_clear_when_removed(
    applied: tuple[Path, Any], openstack_servers: OpenStackServers, tmp_path: Path
) -> None:
    estate, admin = applied
    db = tmp_path / "a.db"
    clean = assess(estate, openstack_servers.cloud, db)
    results = {i["id"]: i["result"] for i in clean["items"]}
    citing = {i.id for i in load_catalogue(3, cloud=True).items if CHANGED & set(i.checks)}
    assert citing and {results[i] for i in citing} == {"符合"}, [
        cloud_evidence(clean, check)["content"] for check in CHANGED
    ]
    isolation = cloud_evidence(clean, "cloud.tenant.isolation")
    assert isolation["source"].startswith(f"cloud {openstack_servers.cloud}: live OpenStack (domain {NAME})")
    assert "0 shared with every project; 3 network RBAC policies" in isolation["content"]
    # without Glance the image checks stay pending, saying why; with it, no image is no finding
    images = next(i for i in clean["items"] if i["id"] == "L3-8.2.4.4-b")
    if openstack_servers.has_image:
        assert images["result"] == "符合"
    else:
        assert images["result"] == "不适用"
        assert any(
            f"no image service in cloud {openstack_servers.cloud}" in e["content"] for e in images["evidence"]
        )

    domain = admin.identity.find_domain(NAME)
    alpha = admin.identity.find_project("alpha", domain_id=domain.id)
    beta = admin.identity.find_project("beta", domain_id=domain.id)
    group = admin.network.create_security_group(name="ops-open", project_id=alpha.id)
    rule = admin.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0", project_id=alpha.id,
    )  # fmt: skip
    network = admin.network.create_network(name="beta-everyone", project_id=beta.id, shared=True)
    try:
        found = assess(estate, openstack_servers.cloud, db)
    finally:
        admin.network.delete_network(network)
        admin.network.delete_security_group(group)
    failed = {i["id"] for i in found["items"] if i["result"] == "不符合"} - {
        i for i, r in results.items() if r == "不符合"
    }
    assert failed == citing
    opened = cloud_evidence(found, "cloud.sg.mgmt_open")
    assert f"alpha: group ops-open rule {rule.id} opens SSH (22) to the world" in opened["content"]
    shared = cloud_evidence(found, "cloud.tenant.isolation")
    assert (
        f"network beta-everyone ({network.id}) of project {beta.id} is shared with every project"
        in (shared["content"])
    )
    assert found["diff"]["regressed"] and {r["id"] for r in found["diff"]["regressed"]} == citing

    again = assess(estate, openstack_servers.cloud, db)
    assert {i["id"]: i["result"] for i in again["items"]} == results
    assert {r["id"] for r in again["diff"]["fixed"]} == citing


def test_public_images_and_shared_snapshots_on_glance(
    applied: tuple[Path, Any], openstack_servers: OpenStackServers, tmp_path: Path
) -> None:
    if not openstack_servers.has_image:
        missing("Glance 33 venv", INSTALL)
    estate, admin = applied
    domain = admin.identity.find_domain(NAME)
    alpha = admin.identity.find_project("alpha", domain_id=domain.id)
    beta = admin.identity.find_project("beta", domain_id=domain.id)
    image = admin.image.create_image(name="alpha-os", disk_format="qcow2", container_format="bare",
                                     visibility="public", owner=alpha.id, allow_duplicates=True)  # fmt: skip
    snapshot = admin.image.create_image(name="beta-snap", disk_format="qcow2", container_format="bare",
                                        visibility="community", owner=beta.id, image_type="snapshot",
                                        allow_duplicates=True)  # fmt: skip
    try:
        found = assess(estate, openstack_servers.cloud, tmp_path / "a.db")
    finally:
        admin.image.delete_image(image)
        admin.image.delete_image(snapshot)
    items = {i["id"]: i for i in found["items"]}
    assert (items["L3-8.2.4.4-b"]["result"], items["L3-8.2.4.4-c"]["result"]) == ("不符合", "不符合")
    protected = cloud_evidence(found, "cloud.image.protected")["content"]
    assert f"image alpha-os ({image.id}) of alpha is public: not protected, no checksum" in protected
    private = cloud_evidence(found, "cloud.snapshot.private")["content"]
    assert f"snapshot beta-snap ({snapshot.id}) of beta is community" in private
