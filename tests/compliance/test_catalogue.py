"""The 等保 catalogue as data: counts against the commonly cited totals, ids, modes, responsibilities,
the checks index, level 3 covering level 2, and the defective corpus table as a cross-check."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from secops.compliance.loader import CATALOGUE_DIR, CatalogueError, load_catalogue, load_checks
from secops.compliance.models import CATEGORIES, AssessmentMode, Catalogue, Part, Responsibility
from tests.components import corpus

GENERAL_L3 = dict(zip(CATEGORIES, (22, 8, 20, 34, 12, 7, 14, 12, 34, 48), strict=True))
GENERAL_L2 = dict(zip(CATEGORIES, (15, 4, 11, 23, 4, 6, 9, 7, 25, 31), strict=True))
ID = re.compile(
    r"^L(?P<level>[23])-(?P<clause>(?P<chapter>[78])\.(?P<part>[12])(\.\d+){2})-(?P<letter>[a-z])$"
)

# Where the standard's level-2 control point is named differently at level 3.
RENAMED_AT_L3 = {("安全区域边界", "恶意代码防范"): ("安全区域边界", "恶意代码和垃圾邮件防范")}
# Level-2 control points with more items than at level 3: the 2019 text merges them (docs/compliance.md).
FEWER_AT_L3 = {("安全运维管理", "恶意代码防范管理")}


@cache
def catalogue(level: int, cloud: bool = False) -> Catalogue:
    return load_catalogue(level, cloud=cloud)


def by_category(items: Catalogue, part: Part = Part.GENERAL) -> dict[str, int]:
    return dict(Counter(i.category for i in items.items if i.part is part))


def test_general_totals_match_the_cited_figures() -> None:
    l2, l3 = catalogue(2), catalogue(3)
    assert (len(l2.items), len(l2.control_points())) == (135, 68)
    assert (len(l3.items), len(l3.control_points())) == (211, 71)
    assert by_category(l2) == GENERAL_L2
    assert by_category(l3) == GENERAL_L3
    assert list(by_category(l3)) == list(CATEGORIES)


def test_cloud_extension_totals() -> None:
    l2, l3 = catalogue(2, cloud=True), catalogue(3, cloud=True)
    assert (len(l2.items) - 135, len(l2.control_points(Part.CLOUD))) == (29, 13)
    assert (len(l3.items) - 211, len(l3.control_points(Part.CLOUD))) == (46, 16)
    assert by_category(l3, Part.CLOUD) == {
        "安全物理环境": 1, "安全通信网络": 5, "安全区域边界": 8, "安全计算环境": 19,
        "安全管理中心": 4, "安全建设管理": 8, "安全运维管理": 1,
    }
    assert "安全管理中心" not in by_category(l2, Part.CLOUD)  # level 2 has no cloud 集中管控
    assert set(l2.versions) == {"general-l2.yaml", "cloud-l2.yaml"}


def test_ids_are_stable_unique_and_say_level_clause_letter() -> None:
    items = [i for level in (2, 3) for i in catalogue(level, cloud=True).items]
    assert len({i.id for i in items}) == len(items) == 135 + 29 + 211 + 46
    for item in items:
        match = ID.match(item.id)
        assert match, item.id
        assert int(match["level"]) == item.level and match["chapter"] == str(item.level + 5)
        assert match["part"] == ("1" if item.part is Part.GENERAL else "2")
        assert (match["clause"], match["letter"]) == (item.clause, item.letter)
    known = catalogue(3, cloud=True).by_id()
    assert known["L3-8.1.4.1-a"].control_point == "身份鉴别"
    assert known["L3-8.1.5.4-d"].category == "安全管理中心"  # the block the corpus lost
    assert known["L3-8.1.4.9-b"].control_point == "数据备份恢复"  # L3 numbering: 数据保密性 is 8.1.4.8
    assert catalogue(2).by_id()["L2-7.1.4.8-a"].control_point == "数据备份恢复"  # L2 has no 数据保密性
    assert known["L3-8.2.4.4-b"].control_point == "镜像和快照保护"


def test_every_item_says_how_it_is_assessed_and_who_answers() -> None:
    checks = load_checks()
    used: set[str] = set()
    for level in (2, 3):
        for item in catalogue(level, cloud=True).items:
            assert isinstance(item.assessment, AssessmentMode)
            assert isinstance(item.responsibility, Responsibility)
            assert bool(item.checks) == (item.assessment is not AssessmentMode.MANUAL), item.id
            assert set(item.checks) <= set(checks), item.id
            used.update(item.checks)
            if item.category == "安全物理环境":
                assert item.responsibility is Responsibility.PLATFORM, item.id
    assert used == set(checks)  # every check in the index serves some item
    for name in ("host.ssh.root_login", "net.acl.boundary", "soc.retention", "cloud.sg.mgmt_open"):
        assert checks[name].description


def test_the_issue_weak_host_scenario_maps_to_items() -> None:
    """Root login by password, no lockout, no audit, default SNMP community: each names its item."""
    weak = ("host.ssh.root_login", "host.auth.login_lockout", "host.audit.enabled", "net.snmp.community")
    serving = {c: sorted(i.id for i in catalogue(3).items if c in i.checks) for c in weak}
    assert serving == {"host.ssh.root_login": ["L3-8.1.4.2-b"], "host.auth.login_lockout": ["L3-8.1.4.1-b"],
                       "host.audit.enabled": ["L3-8.1.4.3-a"], "net.snmp.community": ["L3-8.1.4.2-b"]}


@pytest.mark.parametrize("cloud", [False, True])
def test_level_3_covers_the_level_2_control_points(cloud: bool) -> None:
    part = Part.CLOUD if cloud else Part.GENERAL
    l2 = Counter((i.category, i.control_point) for i in catalogue(2, cloud).items if i.part is part)
    l3 = Counter((i.category, i.control_point) for i in catalogue(3, cloud).items if i.part is part)
    for point, count in l2.items():
        upper = RENAMED_AT_L3.get(point, point)
        assert upper in l3, point
        if point not in FEWER_AT_L3:
            assert l3[upper] >= count, point
    merged = ("安全运维管理", "恶意代码防范管理")
    assert cloud or (l2[merged], l3[merged]) == (3, 2)


def corpus_counts(level: int) -> Counter[tuple[str, str, str]]:
    table = corpus("dengbao", "hummerrisk_gbt22239_2019_requirements.json")
    data = json.loads(table.read_text(encoding="utf-8"))
    parts = {"安全通用要求": "general", "云计算安全扩展要求": "cloud"}
    return Counter(
        (parts[row["requirement_class"]], row["category"], row["control_point"])
        for row in data["items"] if row["requirement_class"] in parts and level in row["levels"]
    )


# Every control point where the corpus table disagrees with us: (ours, corpus) item counts. The corpus
# is known to be defective; docs/compliance.md explains each line.
CORPUS_DIFFERENCES = {
    2: {
        ("general", "安全区域边界", "边界防护"): (1, 2),
        ("general", "安全区域边界", "访问控制"): (4, 8),
        ("general", "安全区域边界", "入侵防范"): (1, 2),
        ("general", "安全区域边界", "恶意代码防范"): (1, 0),
        ("general", "安全区域边界", "恶意代码和垃圾邮件防范"): (0, 2),
        ("general", "安全区域边界", "安全审计"): (3, 6),
        ("general", "安全区域边界", "可信验证"): (1, 2),
        ("general", "安全管理中心", "系统管理"): (2, 0),
        ("general", "安全管理中心", "审计管理"): (2, 0),
        ("general", "安全建设管理", "服务供应商选择"): (2, 3),
        ("general", "安全运维管理", "网络和系统安全管理"): (5, 6),
        ("general", "安全运维管理", "安全事件处置"): (3, 4),
        ("cloud", "安全建设管理", "云服务商选择"): (4, 3),
    },
    3: {
        ("general", "安全区域边界", "边界防护"): (4, 8),
        ("general", "安全区域边界", "访问控制"): (5, 10),
        ("general", "安全区域边界", "入侵防范"): (4, 8),
        ("general", "安全区域边界", "恶意代码和垃圾邮件防范"): (2, 4),
        ("general", "安全区域边界", "安全审计"): (4, 8),
        ("general", "安全区域边界", "可信验证"): (1, 2),
        ("general", "安全管理中心", "系统管理"): (2, 0),
        ("general", "安全管理中心", "审计管理"): (2, 0),
        ("general", "安全管理中心", "安全管理"): (2, 0),
        ("general", "安全管理中心", "集中管控"): (6, 0),
        ("general", "安全建设管理", "服务供应商选择"): (3, 4),
        ("general", "安全运维管理", "安全事件处置"): (4, 3),
    },
}


@pytest.mark.parametrize("level", [2, 3])
def test_differences_from_the_corpus_table_are_exactly_the_documented_ones(level: int) -> None:
    theirs = corpus_counts(level)
    ours = Counter((i.part.value, i.category, i.control_point) for i in catalogue(level, cloud=True).items)
    differing = {k: (ours[k], theirs[k]) for k in set(ours) | set(theirs) if ours[k] != theirs[k]}
    assert differing == CORPUS_DIFFERENCES[level]


# --- malformed data: file, line, what -----------------------------------------------------------------

@pytest.fixture
def data(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target)
    return target


def spoil(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


def problems(data: Path, level: int = 3, cloud: bool = False) -> list[str]:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(level, cloud=cloud, data_dir=data)
    return caught.value.problems


def test_yaml_syntax_error_names_file_and_line(data: Path) -> None:
    path = data / "general-l3.yaml"
    spoil(path, "          a: 应保证网络设备的业务处理能力满足业务高峰期需要。", "          a: [unclosed")
    (found,) = problems(data)
    assert found.startswith(f"{path}:") and "not valid YAML" in found


def test_unknown_check_names_the_item_line(data: Path) -> None:
    path = data / "general-l3.yaml"
    spoil(path, "checks: [host.auth.mfa]", "checks: [host.auth.mfa2]")
    (found,) = problems(data)
    line = line_of(path, "host.auth.mfa2")
    assert found.startswith(f"{path}:{line - 1}: categories.3.control_points.0.items.d:")
    assert "'host.auth.mfa2' is not in checks.yaml" in found


def test_manual_item_with_checks_and_automated_without(data: Path) -> None:
    path = data / "general-l2.yaml"
    spoil(path, "分配账户和权限。, assessment: manual}",
          "分配账户和权限。, assessment: manual, checks: [host.accounts.stale]}")
    spoil(path, "          b: 应提供短期的备用电力供应，至少满足设备在断电情况下的正常运行要求。",
          "          b: {text: 备用电力, assessment: automated}")
    found = problems(data, level=2)
    assert len(found) == 2
    where = f"{path}:{line_of(path, '备用电力')}: categories.0.control_points.8.items.b"
    assert found[0].startswith(f"{where}: assessment is automated but no checks are named")
    assert "a manual item names checks" in found[1] and "categories.3.control_points.1.items.a" in found[1]


def test_unknown_category(data: Path) -> None:
    path = data / "cloud-l3.yaml"
    spoil(path, "  - name: 安全运维管理", "  - name: 安全运营管理")
    (found,) = problems(data, cloud=True)
    where = f"{path}:{line_of(path, '安全运营管理')}: categories.6.name"
    assert found.startswith(f"{where}: '安全运营管理' is not one of the ten categories")


def test_header_letters_and_clauses_that_do_not_fit(data: Path) -> None:
    path = data / "cloud-l3.yaml"
    spoil(path, "part: cloud\n", "part: general\n")
    spoil(path, "          c: 应具有根据云服务客户", "          x: 应具有根据云服务客户")
    spoil(path, "        clause: 8.2.7.1", "        clause: 8.2.6.9")
    found = problems(data, cloud=True)
    items_line = line_of(path, "x: 应具有根据云服务客户")
    assert found == [
        f"{path}:{line_of(path, 'part: general')}: part: the file says part general, level 3; its name says "
        "cloud, level 3 (fix the header or rename the file)",
        f"{path}:{items_line}: categories.1.control_points.0.items.x: item letters are a, b, x, d, e; "
        "expected a, b, c, d, e in order (letters follow the standard)",
        f"{path}:{line_of(path, '8.2.6.9')}: categories.6.control_points.0.clause: 8.2.6.9 is not inside "
        "8.2.7 (fix it)",
    ]


def test_missing_and_extra_field(data: Path) -> None:
    path = data / "general-l2.yaml"
    spoil(path, "      - name: 防雷击\n", "      - nmae: 防雷击\n")
    found = problems(data, level=2)
    line = line_of(path, "nmae: 防雷击")
    assert f"{path}:{line}: categories.0.control_points.3.name: Field required" in "\n".join(found)
    assert f"{path}:{line}: categories.0.control_points.3.nmae: Extra inputs" in "\n".join(found)


def test_level_outside_2_and_3_is_refused() -> None:
    with pytest.raises(ValueError, match="levels 2 and 3"):
        load_catalogue(4)
