"""The shipped rules on a real Prometheus scraping a real `egovops exporter` (tests/components/prometheus.py):
an access site below its bandwidth floor makes the alert fire, and the indicators' recording rules write
series."""

from __future__ import annotations

from typing import Any

from tests.components.prometheus import Prometheus, wait_for


def test_site_below_bandwidth_floor_fires(egovops_prometheus: Prometheus) -> None:
    def firing() -> list[dict[str, Any]]:
        return [
            a for a in egovops_prometheus.alerts()
            if a["labels"]["alertname"] == "EgovopsSiteBelowBandwidthFloor" and a["state"] == "firing"
        ]  # fmt: skip

    alerts = wait_for(firing, 60, "EgovopsSiteBelowBandwidthFloor to fire")
    assert len(alerts) == 1
    labels = alerts[0]["labels"]
    assert (labels["city"], labels["county"], labels["level"], labels["severity"]) == (
        "测试市",
        "c1",
        "town",
        "warning",
    )
    assert float(alerts[0]["value"]) == 1
    assert alerts[0]["annotations"]["summary"] == "1 town site(s) in 测试市 c1 below the bandwidth floor"


def test_no_other_alert_fires_for_a_healthy_exporter(egovops_prometheus: Prometheus) -> None:
    wait_for(lambda: egovops_prometheus.query("egovops_audit_chain_valid"), 60, "the first scrape")
    names = {a["labels"]["alertname"] for a in egovops_prometheus.alerts() if a["state"] == "firing"}
    assert names <= {"EgovopsSiteBelowBandwidthFloor"}


def test_indicator_gap_is_recorded(egovops_prometheus: Prometheus) -> None:
    series = wait_for(
        lambda: egovops_prometheus.query('egovops:indicator_gap{indicator="on_cloud_rate"}'), 60,
        "the recording rule egovops:indicator_gap",
    )  # fmt: skip
    gaps = {s["metric"].get("department", ""): round(float(s["value"][1]), 4) for s in series}
    # city: 5 of 6 eligible systems on the cloud against 90%; d3 has one of two
    assert gaps == {"": round(5 / 6 - 0.9, 4), "d1": 0.1, "d2": 0.1, "d3": -0.4}


def test_the_exporter_target_is_up(egovops_prometheus: Prometheus) -> None:
    targets = wait_for(
        lambda: [t for t in egovops_prometheus.api("targets")["activeTargets"] if t["health"] == "up"], 60,
        "the exporter target to be up",
    )  # fmt: skip
    assert [t["labels"]["job"] for t in targets] == ["egovops"]
