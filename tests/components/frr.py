"""The extranet test bed: FRRouting routers in network namespaces, built once per session from
tests/network/data/testbed.yaml by `network.testbed` (the same code as `egovops net range up`) and torn
down at session end, also when a test fails. Each router runs FRR's daemons and its own sshd, so netmiko
reaches it over SSH on the management bridge as it would a real router."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from network.estate import load_network
from network.testbed import Range, down, up
from tests.components import missing, require_binary

INSTALL = "apt-get install -y frr openssh-server openssh-client iputils-ping"
ESTATE = Path(__file__).resolve().parents[1] / "network" / "data" / "testbed.yaml"


def require_testbed_tools() -> None:
    require_binary("vtysh", INSTALL)
    require_binary("zebra", INSTALL, "/usr/lib/frr/zebra")
    require_binary("sshd", INSTALL, "/usr/sbin/sshd")
    require_binary("ping", INSTALL)
    require_binary("ip", "apt-get install -y iproute2", "/usr/sbin/ip", "/sbin/ip")
    if os.geteuid() != 0:
        missing("root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)", "run the tests as root")


@pytest.fixture(scope="session")
def frr_testbed() -> Iterator[Range]:
    """Ten routers (five sites x two planes), up and reachable over SSH; removed at session end."""
    require_testbed_tools()
    root = Path(tempfile.mkdtemp(prefix="egovops-testbed-"))
    bed = up(load_network(ESTATE), root, f"egv-net{os.getpid() % 100000}")
    try:
        yield bed
    finally:
        down(bed)
