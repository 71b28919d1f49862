"""The range's router: FRRouting's zebra and staticd in their own namespace (`-N NS` keeps their files
under /etc/frr/NS and /var/run/frr/NS), forwarding between the segments. The interfaces' addresses are
set with `ip`; staticd holds a blackhole for each family's covering prefix, so traffic to an unused part
of the range dies at the router instead of leaking towards any default route."""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Iterable
from pathlib import Path

from secops.drills.range.description import Description

ETC_FRR = Path("/etc/frr")
RUN_FRR = Path("/var/run/frr")
INSTALL = "apt-get install -y frr"


def covering(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """The smallest prefix holding every network given (all of one family)."""
    nets = list(networks)
    cover = nets[0]
    while not all(n.subnet_of(cover) for n in nets):  # type: ignore[arg-type]
        cover = cover.supernet()
    return str(cover)


def configure(desc: Description, netns: str) -> tuple[list[Path], list[list[str]]]:
    """frr.conf and the daemons' directories; (directories made, each daemon's command line)."""
    etc, run = ETC_FRR / netns, RUN_FRR / netns
    for directory in (etc, run):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, "frr", "frr")
    v4 = covering(s.ipv4 for s in desc.segments.values())
    v6 = covering(s.ipv6 for s in desc.segments.values())
    conf = etc / "frr.conf"
    conf.write_text(f"frr defaults traditional\nhostname range-router\n"
                    f"ip route {v4} blackhole\nipv6 route {v6} blackhole\n")  # fmt: skip
    shutil.chown(conf, "frr", "frr")
    argv = [[str(daemon), "-N", netns, "-A", "127.0.0.1", "-f", str(conf)]
            for daemon in (desc.router.zebra, desc.router.staticd)]  # fmt: skip
    return [etc, run], argv


def ready(netns: str) -> bool:
    run = RUN_FRR / netns
    return (run / "zebra.vty").exists() and (run / "staticd.vty").exists()
