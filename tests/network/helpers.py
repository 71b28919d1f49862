"""The estates of tests/network/data, loaded and planned."""

from __future__ import annotations

from pathlib import Path

from network.estate import Network, load_network
from network.ipam import IpamPlan, plan

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
TESTBED = DATA / "testbed.yaml"
VENDORS = DATA / "vendors.yaml"


def planned(path: Path) -> tuple[Network, IpamPlan]:
    net = load_network(path)
    return net, plan(net)
