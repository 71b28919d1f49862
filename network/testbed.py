"""The test bed, first part of the cyber range (网络安全仿真靶场): the estate's FRRouting devices as real
routers, one network namespace each, joined by veth links as the estate's links say.

Each router runs its own FRR daemons (`-N NS` keeps their files under /etc/frr/NS and /var/run/frr/NS;
watchfrr runs so `write memory` works) and its own OpenSSH server on its management address, whose only
user logs in to `vtysh -N NS`: netmiko then drives it as it would a real device. Management addresses sit
on one bridge in the host's namespace that the test bed makes (with `host` as the host's address on it).
The site's LAN is a veth pair inside the router (`lan` and its peer), so it has carrier without a host.

Everything made is recorded in `state.json` under the work directory as it is made, so `down` removes it
all — also after a failed `up`, and from another process. Processes are stopped by PID.
"""

from __future__ import annotations

import grp
import ipaddress
import pwd
import secrets
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from egovops import processes, sshd
from network.estate import Network, Vendor

DAEMONS = ("zebra", "ospfd", "ospf6d", "staticd")
FRR_LIB = Path("/usr/lib/frr")
USER = "egovops"


class RangeError(RuntimeError):
    """A step of building the test bed failed; the message names the step and what the system said."""


@dataclass
class Router:
    device: str
    netns: str
    management: str
    port: int
    pids: list[int] = field(default_factory=list)


@dataclass
class Range:
    root: Path
    prefix: str
    tag: str
    """A few random hex digits in the host-side link names, so two test beds never collide."""
    bridge: str
    host: str
    password: str
    routers: dict[str, Router] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def save(self) -> None:
        data = asdict(self)
        data["root"] = str(self.root)
        self.state_file.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        self.state_file.chmod(0o600)

    @classmethod
    def load(cls, root: Path) -> Range:
        data = orjson.loads((root / "state.json").read_bytes())
        routers = {k: Router(**v) for k, v in data.pop("routers").items()}
        return cls(**{**data, "root": Path(data["root"]), "routers": routers})

    def netns(self, device: str) -> str:
        return self.routers[device].netns

    def run(self, device: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.netns(device), *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def _run(*argv: str) -> None:
    processes.run(*argv, error=RangeError)


def _accounts(ns: str, password: str, shell: Path) -> None:
    """passwd, group and shadow seen inside the namespace only (`ip netns exec` mounts /etc/netns/NS)."""
    etc = Path("/etc/netns") / ns
    etc.mkdir(parents=True, exist_ok=True)
    frr, sshd = pwd.getpwnam("frr"), pwd.getpwnam("sshd")
    vty, frr_group = grp.getgrnam("frrvty"), grp.getgrgid(frr.pw_gid)
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        f"frr:x:{frr.pw_uid}:{frr.pw_gid}::/nonexistent:/usr/sbin/nologin\n"
        f"sshd:x:{sshd.pw_uid}:{sshd.pw_gid}::/run/sshd:/usr/sbin/nologin\n"
        f"{USER}:x:4243:{vty.gr_gid}:egovops router login:/tmp:{shell}\n"
    )
    (etc / "group").write_text(
        f"root:x:0:\n{frr_group.gr_name}:x:{frr_group.gr_gid}:\nfrrvty:x:{vty.gr_gid}:frr,{USER}\n"
    )
    shadow = etc / "shadow"
    shadow.write_text(f"root:*:19000:0:99999:7:::\n{USER}:{hashed}:19000:0:99999:7:::\n")
    shadow.chmod(0o600)


def _spawn(ns: str, argv: list[str], log: Path) -> int:
    return processes.spawn(ns, argv, log, error=RangeError)


def _router(bed: Range, net: Network, name: str, index: int, key: Path) -> None:
    device = net.device(name)
    ns = f"{bed.prefix}-{index}"
    router = Router(name, ns, str(device.management), device.port)
    bed.routers[name] = router
    _run("ip", "netns", "add", ns)
    bed.namespaces.append(ns)
    bed.save()
    for sysctl in (
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        "net.ipv6.conf.default.accept_dad=0",
    ):
        _run("ip", "netns", "exec", ns, "sysctl", "-qw", sysctl)
    _run("ip", "-n", ns, "link", "set", "lo", "up")
    _run("ip", "-n", ns, "link", "add", device.lan, "type", "veth", "peer", "name", f"{device.lan}p")
    for dev in (device.lan, f"{device.lan}p"):
        _run("ip", "-n", ns, "link", "set", dev, "up")
    host_end = f"egvm{bed.tag}{index}"  # at most 15 characters
    _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", "mgmt0", "netns", ns)
    _run("ip", "link", "set", host_end, "master", bed.bridge, "up")
    _run("ip", "-n", ns, "addr", "add", f"{device.management}/24", "dev", "mgmt0")
    _run("ip", "-n", ns, "link", "set", "mgmt0", "up")
    etc, run = Path("/etc/frr") / ns, Path("/var/run/frr") / ns
    for directory in (etc, run):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, "frr", "frr")
    conf = etc / "frr.conf"
    conf.write_text(f"frr defaults traditional\nhostname {name}\nservice integrated-vtysh-config\n")
    (etc / "vtysh.conf").write_text("service integrated-vtysh-config\n")
    for path in (conf, etc / "vtysh.conf"):
        shutil.chown(path, "frr", "frr")
    logs = bed.root / ns
    logs.mkdir(exist_ok=True)
    for daemon in DAEMONS:
        router.pids.append(_spawn(ns, [str(FRR_LIB / daemon), "-N", ns, "-A", "127.0.0.1", "-f", str(conf)],
                                  logs / f"{daemon}.log"))  # fmt: skip
        bed.save()
    router.pids.append(_spawn(ns, [str(FRR_LIB / "watchfrr"), "-N", ns, *DAEMONS], logs / "watchfrr.log"))
    shell = run / "egovops-login"  # readable by the login user wherever the work directory is
    shell.write_text(f"#!/bin/sh\nexec /usr/bin/vtysh -N {ns}\n")
    shell.chmod(0o755)
    _accounts(ns, bed.password, shell)
    sshd_conf = logs / "sshd_config"
    sshd_conf.write_text(sshd.render([str(device.management)], device.port, key, logs / "sshd.pid", USER))
    server = ["/usr/sbin/sshd", "-D", "-f", str(sshd_conf), "-E", str(logs / "sshd.log")]
    router.pids.append(_spawn(ns, server, logs / "sshd.out"))
    bed.save()


def _wait_ready(bed: Range, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(bed.routers)
    while pending and time.monotonic() < deadline:
        for name, router in list(pending.items()):
            log = bed.root / router.netns / "sshd.log"
            vty = Path("/var/run/frr") / router.netns / "watchfrr.started"
            if log.exists() and "Server listening" in log.read_text(errors="replace") and vty.exists():
                del pending[name]
        time.sleep(0.1)
    if pending:
        raise RangeError(f"routers not ready after {timeout:.0f} s: {', '.join(pending)} "
                           f"(see {bed.root}/<namespace>/*.log)")  # fmt: skip


def up(net: Network, root: Path, prefix: str, host: str = "198.18.250.1") -> Range:
    """Build a router for every FRRouting device and every link between two of them; on any failure
    everything made so far is removed and RangeError says which step failed."""
    frr_devices = [d.name for d in net.devices if d.vendor is Vendor.FRR]
    root.mkdir(parents=True, exist_ok=True)
    network = ipaddress.ip_network(f"{host}/24", strict=False)
    tag = secrets.token_hex(3)
    bed = Range(root=root, prefix=prefix, tag=tag, bridge=f"egvbr{tag}", host=f"{host}/{network.prefixlen}",
                  password=secrets.token_urlsafe(16))  # fmt: skip
    bed.save()
    try:
        _run("ip", "link", "add", bed.bridge, "type", "bridge")
        _run("ip", "addr", "add", bed.host, "dev", bed.bridge)
        _run("ip", "link", "set", bed.bridge, "up")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        key = root / "host_ed25519"
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        for index, name in enumerate(frr_devices):
            _router(bed, net, name, index, key)
        for link in net.links:
            if link.a.device in bed.routers and link.b.device in bed.routers:
                a, b = bed.routers[link.a.device].netns, bed.routers[link.b.device].netns
                _run("ip", "link", "add", link.a.interface, "netns", a, "type", "veth",
                     "peer", "name", link.b.interface, "netns", b)  # fmt: skip
                _run("ip", "-n", a, "link", "set", "dev", link.a.interface, "up")
                _run("ip", "-n", b, "link", "set", "dev", link.b.interface, "up")
        _wait_ready(bed)
    except BaseException:
        down(bed)
        raise
    return bed


def down(bed: Range) -> None:
    """Stop every process by PID and remove the namespaces, their /etc files, the bridge and the state."""
    processes.stop([pid for router in bed.routers.values() for pid in router.pids], grace=10)
    for ns in bed.namespaces:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for path in (Path("/etc/netns") / ns, Path("/etc/frr") / ns, Path("/var/run/frr") / ns):
            shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["ip", "link", "del", bed.bridge], capture_output=True, check=False)
    shutil.rmtree(bed.root, ignore_errors=True)
