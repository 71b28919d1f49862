"""Network namespaces for tests: two namespaces joined by a veth pair, with addresses that exist only
inside them, removed (with their `/etc/netns/NAME` files) when the block ends, however it ends."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.components import missing, require_binary

INSTALL = "apt-get install -y iproute2"
ETC_NETNS = Path("/etc/netns")


@dataclass(frozen=True)
class Netns:
    """One named namespace; `ip netns exec` also bind-mounts the files of `etc_dir` over `/etc`."""

    name: str
    address: str

    @property
    def etc_dir(self) -> Path:
        return ETC_NETNS / self.name

    def argv(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*command), capture_output=True, text=True, timeout=timeout, check=False
        )


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@contextmanager
def linked_pair(tag: str, subnet: str = "10.66.0") -> Iterator[tuple[Netns, Netns]]:
    """Namespaces `egv-TAG-PID-a` (SUBNET.1/30) and `-b` (SUBNET.2/30) joined by a veth pair."""
    require_binary("ip", INSTALL, "/usr/sbin/ip", "/sbin/ip")
    if os.geteuid() != 0:
        missing("root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)", "run the tests as root")
    base = f"egv-{tag}-{os.getpid()}"
    first, second = Netns(f"{base}-a", f"{subnet}.1"), Netns(f"{base}-b", f"{subnet}.2")
    veth = f"egv{os.getpid() % 100000}{tag[:3]}"  # interface names are at most 15 characters
    created: list[Netns] = []
    try:
        for ns in (first, second):
            _ip("netns", "add", ns.name)
            created.append(ns)
        _ip("link", "add", f"{veth}a", "netns", first.name, "type", "veth", "peer", "name", f"{veth}b",
            "netns", second.name)  # fmt: skip
        for ns, dev in ((first, f"{veth}a"), (second, f"{veth}b")):
            _ip("-n", ns.name, "addr", "add", f"{ns.address}/30", "dev", dev)
            _ip("-n", ns.name, "link", "set", dev, "up")
            _ip("-n", ns.name, "link", "set", "lo", "up")
        yield first, second
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
            shutil.rmtree(ns.etc_dir, ignore_errors=True)
