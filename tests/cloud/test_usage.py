"""Usage against the plans' targets, from the estate alone (the live part is in test_lifecycle)."""

from __future__ import annotations

from cloud.usage import measure
from egovops.estate import parse_estate
from tests.cloud.helpers import STACKS, small_text


def test_shantou_on_cloud_rate_and_compute_scale() -> None:
    report = measure(parse_estate((STACKS / "shantou" / "estate.yaml").read_text(encoding="utf-8")))
    indicators = {i.indicator: (i.actual, i.met) for i in report.indicators}
    # 46 on the cloud of 48 that may go (the 涉密 system is outside the denominator)
    assert indicators == {"on_cloud_rate": (0.9583, True), "compute_scale_vcpu": (8820.0, False)}
    assert report.pools == [
        {
            "pool": "general",
            "vcpu": 8820,
            "ram_gb": 42000,
            "storage_tb": 1462,
            "vcpu_allocated": 8280,
            "ram_gb_allocated": 39100,
            "storage_tb_allocated": 1380.0,
            "vcpu_allocation_ratio": 0.9388,
        }
    ]


def test_actual_use_from_the_metering_snapshot() -> None:
    text = small_text("t").replace(
        "  targets:\n",
        "  usage: {at: '2024-06-30', vcpu_used: 70, ram_used_gb: 200, storage_used_tb: 4}\n  targets:\n",
    )
    text = text.replace(
        '{indicator: vcpu_used, value: 60, due: "2025", source: test}',
        '{indicator: vcpu_used, value: 60, due: "2025", source: test}\n'
        '    - {indicator: overall_utilisation, value: 0.6, due: "2025", source: test}',
    )
    indicators = {i.indicator: (i.actual, i.met) for i in measure(parse_estate(text)).indicators}
    assert indicators == {
        "vcpu_used": (70.0, True),
        "overall_utilisation": (0.5333, False),
    }  # (0.7+0.5+0.4)/3
