"""The estate schema: the example cities carry the seeds' figures, and bad files get one clear line per
problem naming the file, line, path, reason and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from egovops.estate import CloudStatus, EstateError, load_estate, parse_estate
from tests.cloud.helpers import SMALL, STACKS, cli, small_text


def test_shantou_carries_the_figures_of_its_plan() -> None:
    estate = load_estate(STACKS / "shantou" / "estate.yaml")
    pool = estate.pool("general")
    assert (pool.vcpu, pool.ram_gb, pool.storage_tb) == (8820, 42000, 1462)
    assert (estate.admin.towns, estate.admin.villages) == (67, 1086)
    counties = [u.name for u in estate.admin.units]
    assert len(counties) == 7 and sum(n.endswith("县") for n in counties) == 1  # 6区1县
    assert len(estate.tenants) == 23
    on_cloud = [s for t in estate.tenants for s in t.systems if s.status is CloudStatus.ON_CLOUD]
    assert len(on_cloud) == 46
    targets = {t.indicator: t.value for t in estate.cloud.targets}
    assert targets == {"compute_scale_vcpu": 15000, "on_cloud_rate": 0.9}


def test_shanwei_carries_the_actual_usage_targets() -> None:
    estate = load_estate(STACKS / "shanwei" / "estate.yaml")
    targets = {(t.indicator, t.due): t.value for t in estate.cloud.targets}
    assert targets[("vcpu_used", "2023-12-31")] == 13500
    assert targets[("ram_used_gb", "2023-12-31")] == 33500
    assert targets[("storage_used_tb", "2023-12-31")] == 1000
    assert targets[("storage_used_tb", "2024-12-31")] == 2400
    assert targets[("overall_utilisation", "2024-12-31")] == 0.6
    classified = [s.name for t in estate.tenants for s in t.systems if s.classified]
    assert classified == ["警务办案系统"]


def problems(text: str) -> list[str]:
    with pytest.raises(EstateError) as caught:
        parse_estate(text, "estate.yaml")
    return caught.value.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_misspelt_field_names_its_line_and_the_fix() -> None:
    text = small_text("t").replace("quota: {vcpu: 20,", "quota: {vcpus: 20,")
    found = problems(text)
    at = line_of(text, "vcpus")
    assert (
        f"estate.yaml:{at}: tenants.1.quota.vcpus: Extra inputs are not permitted "
        "(remove it or check its spelling against docs/estate.md)" in found
    )
    assert (
        f"estate.yaml:{at}: tenants.1.quota.vcpu: Field required (add it; docs/estate.md lists every field)"
        in found
    )


def test_cross_references_are_checked_with_their_lines() -> None:
    text = (
        small_text("t")
        .replace("pool: general\n    quota: {vcpu: 20", "pool: gpu\n    quota: {vcpu: 20")
        .replace("ipv4: 10.91.3.0/24", "ipv4: 10.91.1.0/24")
        .replace("shared_with: [beta]", "shared_with: [gamma]")
    )
    found = problems(text)
    overlap = line_of(text, 'ipv4: 10.91.1.0/24, ipv6: "2001:db8:91:3')
    assert found == [
        f"estate.yaml:{line_of(text, 'shared_with: [gamma]')}: tenants.0.networks.0.shared_with: "
        "unknown tenant 'gamma' (declare it under tenants)",
        f"estate.yaml:{line_of(text, 'pool: gpu')}: tenants.1.pool: unknown pool 'gpu' "
        "(declare it under cloud.pools: ['general'])",
        f"estate.yaml:{overlap}: tenants.1.networks.0.ipv4: "
        "10.91.1.0/24 overlaps 10.91.1.0/24 at tenants.0.networks.0.ipv4 (give each its own)",
    ]


def test_a_prefix_outside_its_plane_and_a_bad_remote_are_refused() -> None:
    outside = small_text("t").replace("ipv4: 10.91.3.0/24", "ipv4: 192.168.3.0/24")
    assert problems(outside) == [
        f"estate.yaml:{line_of(outside, '192.168.3.0/24')}: tenants.1.networks.0.ipv4: 192.168.3.0/24 is "
        "outside plane biz's 10.91.0.0/16 (pick a prefix in it)"
    ]
    remote = small_text("t").replace("remote: 10.90.0.0/28", "remote: bastion")
    assert problems(remote) == [
        f"estate.yaml:{line_of(remote, 'remote: bastion')}: tenants.0.openings.1.remote: "
        "'bastion' is neither a CIDR (10.0.0.0/8, 2001:db8::/32) nor tenant:NAME"
    ]


def test_broken_yaml_and_empty_files_say_where() -> None:
    assert problems("version: 1\nname: [x\n") == [
        "estate.yaml:3: not valid YAML: expected ',' or ']', but got '<stream end>' (fix the syntax)"
    ]
    assert problems("") == ["estate.yaml:1: the file is empty (start from stacks/shanwei/estate.yaml)"]


def test_estate_validate_cli(tmp_path: Path) -> None:
    code, data = cli("estate", "validate", str(STACKS / "shanwei" / "estate.yaml"))
    assert code == 0
    assert data == {
        "valid": True,
        "name": "shanwei",
        "city": "汕尾市",
        "tenants": 5,
        "systems": 12,
        "planes": 4,
        "pools": 2,
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.read_text(encoding="utf-8").replace("level: city", "level: metropolis", 1))
    code, data = cli("estate", "validate", str(bad))
    assert code == 5
    assert data["valid"] is False
    assert data["problems"][0].startswith(f"{bad}:5: admin.level: Input should be ")
