"""The network section: clear errors with file and line, and the checks the estate answers alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from egovops.estate import EstateError, load_estate
from network.checks import run_checks
from network.estate import load_network
from tests.network.helpers import TESTBED, VENDORS


def test_unknown_parent_names_file_line_and_fix(tmp_path: Path) -> None:
    text = TESTBED.read_text(encoding="utf-8").replace(
        "parent: east, title: 甲镇", "parent: eest, title: 甲镇"
    )
    bad = tmp_path / "estate.yaml"
    bad.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "eest" in row)
    with pytest.raises(EstateError) as caught:
        load_network(bad)
    assert caught.value.problems == [
        f"{bad}:{line}: network.sites.3.parent: unknown site 'eest' (declare it under network.sites)"
    ]


def test_plane_missing_from_the_estate_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "estate.yaml"
    bad.write_text(TESTBED.read_text(encoding="utf-8").replace("{name: video, title:", "{name: vid, title:"))
    with pytest.raises(EstateError, match=r"network.planes.1.name: 'video' is not a plane of the estate"):
        load_network(bad)


def test_checks_on_the_vendor_estate() -> None:
    checks = {(c.check, c.subject): c for c in run_checks(load_network(VENDORS), today=date(2026, 1, 1))}
    assert checks[("bandwidth-floor", "east-a")].ok  # 100M uplink, town floor 100M
    assert not checks[("bandwidth-floor", "west-a")].ok  # no device, no link
    assert checks[("bandwidth-floor", "west-a")].detail.startswith("no link to its parent west")
    assert not checks[("warranty", "west-r1")].ok  # ended 2023-12-31, no exception
    assert checks[("warranty", "east-r1")].ok and "exception" in checks[("warranty", "east-r1")].detail
    rate = checks[("access-rate", "budget-units")]
    assert not rate.ok and "80.0% (4/5), target 90%" in rate.detail
    assert all(c.ok for c in checks.values() if c.check == "ipv6")


def test_a_copy_with_new_links_is_looked_up_with_them() -> None:
    net = load_network(TESTBED)
    assert net.links_of("east-biz")[0].capacity == 10000  # fills the lookup cache
    copy = net.model_copy(update={"links": [k.model_copy(update={"capacity": 5}) for k in net.links]})
    assert [k.capacity for k in copy.links_of("east-biz")] == [5, 5]


@pytest.mark.parametrize("path", [TESTBED, VENDORS])
def test_the_example_estates_are_whole_estates(path: Path) -> None:
    estate = load_estate(path)
    assert estate.network is not None and len(estate.network["sites"]) == len(load_network(path).sites) == 5
