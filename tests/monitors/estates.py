"""Synthetic estates for the monitoring tests and benchmarks: a city with counties, towns and villages
(one router per site, one uplink to its parent), departments with systems, and a metering snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FLOORS = {"county": 1000, "town": 100, "village": 50}


def estate_data(
    *, departments: int = 3, counties: int = 2, towns: int = 2, villages: int = 2, slow_towns: int = 0
) -> dict[str, Any]:
    """`towns` per county and `villages` per town; the first `slow_towns` towns get a 40M uplink (floor
    100M). Site names: c1, c1-t1, c1-t1-v1 …; departments d1, d2 … with a few systems each."""
    sites: list[dict[str, Any]] = [{"name": "city", "level": "city"}]
    links: list[dict[str, Any]] = []
    slow = slow_towns

    def add(name: str, level: str, parent: str, capacity: int) -> None:
        sites.append({"name": name, "level": level, "parent": parent})
        links.append({"a": {"device": f"r-{parent}", "interface": f"down-{name}"},
                      "b": {"device": f"r-{name}", "interface": "up"}, "capacity": capacity})  # fmt: skip

    for c in range(1, counties + 1):
        county = f"c{c}"
        add(county, "county", "city", 10000)
        for t in range(1, towns + 1):
            town = f"{county}-t{t}"
            add(town, "town", county, 40 if slow > 0 else 1000)
            slow -= 1
            for v in range(1, villages + 1):
                add(f"{town}-v{v}", "village", town, 100)
    devices = [
        {"name": f"r-{s['name']}", "site": s["name"], "vendor": "frr", "model": "FRRouting", "os": "8.4",
         "warranty_end": "2030-12-31", "management": f"198.18.{i // 250}.{i % 250 + 1}", "lan": "lan0"}
        for i, s in enumerate(sites)
    ]  # fmt: skip
    tenants = [
        {"name": f"d{d}", "title": f"部门{d}", "pool": "general", "quota": {"vcpu": 100, "ram_gb": 400},
         "systems": [
             {"name": f"系统{d}-1", "level": 3, "status": "on-cloud", "crypto_assessed": d % 2 == 0},
             {"name": f"系统{d}-2", "level": 2, "status": "planned" if d % 3 == 0 else "on-cloud"},
         ]}
        for d in range(1, departments + 1)
    ]  # fmt: skip
    return {
        "version": 1,
        "name": "synthetic",
        "city": "测试市",
        "admin": {"name": "测试市", "level": "city"},
        "cloud": {
            "name": "测试市节点",
            "pools": [{"name": "general", "vcpu": 10000, "ram_gb": 40000, "storage_tb": 1000}],
            "targets": [
                {"indicator": "ram_utilisation", "value": 0.4, "due": "2030", "source": "test: 40%"},
                {"indicator": "on_cloud_rate", "value": 0.9, "due": "2030", "source": "test: 90%"},
            ],
            "usage": {"at": "2026-10-31", "vcpu_used": 2000, "ram_used_gb": 10000, "storage_used_tb": 500},
        },
        "planes": [{"name": "biz", "ipv4": "10.151.0.0/16", "ipv6": "2001:db8:51::/48"}],
        "tenants": tenants,
        "network": {
            "floors": FLOORS,
            "access_target": 0.9,
            "planes": [{"name": "biz", "vrf": 101, "ipv4": "10.0.0.0/8", "ipv6": "2001:db8:1000::/36"}],
            "addressing": {
                "ipv4": {"county": 12, "town": 16, "village": 22, "segment": 26, "links": 16, "link": 31},
                "ipv6": {"county": 44, "town": 52, "village": 60, "segment": 64, "links": 56, "link": 127},
            },
            "sites": sites,
            "devices": devices,
            "links": links,
            "budget_units": [{"name": f"单位{i}", "site": "city" if i % 5 else None} for i in range(20)],
        },
    }


def write_estate(path: Path, **shape: int) -> Path:
    path.write_text(
        yaml.safe_dump(estate_data(**shape), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return path
