"""Build the range from its description (`up`), take it apart (`down`), and both around a block
(`running`). Each thing made is recorded in state.json as it is made, so `down` undoes exactly what exists
— after a failed `up` (which calls it itself), from another process, or after egovops was killed.

Segments are Linux bridges, each in a namespace of its own; every host (and the router, once per segment)
is joined to a bridge by a veth pair made inside those namespaces, so the machine's own namespace never
gains a link and two ranges with different prefixes never collide.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from secops.drills.range import accounts, audit, router, sensors, ssh, web
from secops.drills.range.description import Description, load_description
from secops.drills.range.procs import RangeError, Starting, run, spawn, stop, wait_for
from secops.drills.range.state import HostState, Range, Sensor

PREFIX = "egv-drill"
READY_TIMEOUT = 25.0
WEB_PORT = 80


def up(description: Path, root: Path, prefix: str = PREFIX) -> Range:
    """Build the range described in `description` with its work directory at `root`; on any failure
    everything made so far is removed and RangeError (or DescriptionError) says what went wrong."""
    desc = load_description(description)
    _check_root(root, prefix)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # Apache's children (the range's web account) read the app under it
    rng = Range(root=root.resolve(), prefix=prefix, description=description.resolve(), web_port=WEB_PORT)
    rng.save()
    try:
        _build(rng, desc)
    except BaseException:
        down(rng)
        raise
    return rng


def down(rng: Range) -> None:
    """Remove the range's audit rules, stop its processes by PID (and whatever else still runs in its
    namespaces), delete the namespaces with their links and bridges, its files and its work directory."""
    problems: list[str] = []
    if rng.audit.rules:
        try:
            audit.remove_rules(rng.audit.rules, rng.audit_key)
        except RangeError as exc:
            problems.append(str(exc))
    pids = [*rng.local.values(), *([rng.audit.pid] if rng.audit.pid else [])]
    for host in (*rng.hosts.values(), *rng.segments.values()):
        pids.extend(host.processes.values())
    stop(pids)
    if rng.audit.enabled_before is not None:
        with contextlib.suppress(RangeError):
            audit.restore(rng.audit.enabled_before)
    for ns in reversed(rng.namespaces):
        stragglers = _namespace_pids(ns)  # e.g. SSH sessions, which sshd starts in sessions of their own
        stop(stragglers, grace=1)
        with contextlib.suppress(RangeError):
            run("ip", "netns", "del", ns)
    for path in rng.paths:
        shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(rng.root, ignore_errors=True)
    if problems:
        raise RangeError("; ".join(problems))


@contextlib.contextmanager
def running(description: Path, root: Path, prefix: str = PREFIX) -> Iterator[Range]:
    """A range for the length of a block, taken down however the block ends."""
    rng = up(description, root, prefix)
    try:
        yield rng
    finally:
        down(rng)


def _check_root(root: Path, prefix: str) -> None:
    if (root / "state.json").exists():
        raise RangeError(f"{root} holds a range: take it down (egovops range down --dir {root})")
    if root.exists() and any(root.iterdir()):
        raise RangeError(f"{root} is not empty; give --dir a new or empty directory (down removes it)")
    for parent in root.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise RangeError(f"{parent} is not searchable by others, so Apache's children could not "
                             "read the app (choose a --dir under a world-searchable path)")  # fmt: skip
    if not prefix.replace("-", "").isalnum() or not prefix[:1].isalpha() or len(prefix) > 40:
        raise RangeError(f"prefix {prefix!r}: use letters, digits and -, starting with a letter (≤ 40)")


def _namespace(rng: Range, name: str) -> str:
    ns = f"{rng.prefix}-{name}"
    run("ip", "netns", "add", ns)
    rng.namespaces.append(ns)
    rng.save()
    run("ip", "-n", ns, "link", "set", "lo", "up")
    return ns


def _namespace_pids(ns: str) -> list[int]:
    try:
        return [int(p) for p in run("ip", "netns", "pids", ns).split()]
    except RangeError:
        return []


def _build(rng: Range, desc: Description) -> None:
    logs = rng.root / "logs"
    if desc.sensors.audit.enabled:
        audit.check_free()  # before building anything: the usual reason a range cannot start
    for name in desc.segments:
        ns = _namespace(rng, f"sw-{name}")
        rng.segments[name] = HostState(namespace=ns)
        run("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", ns, "link", "set", "br0", "up")
    rtr = rng.hosts["router"] = HostState(namespace=_namespace(rng, "router"))
    run("ip", "netns", "exec", rtr.namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1")  # fmt: skip
    for segment in desc.segments:
        rtr.addresses[segment] = _plug(rng, desc, "router", f"r-{segment}", segment, desc.router.host)
    for name, host in desc.hosts().items():
        state = rng.hosts[name] = HostState(namespace=_namespace(rng, name))
        state.addresses[host.segment] = _plug(rng, desc, name, "eth0", host.segment, host.host)
        for family in (4, 6):
            gateway = desc.address(host.segment, desc.router.host, family)
            run("ip", f"-{family}", "-n", state.namespace, "route", "add", "default", "via", gateway)
    rng.save()
    ready: dict[str, Starting] = {}
    _start_router(rng, desc, ready)
    _start_web(rng, desc, logs, ready)
    _start_ssh(rng, desc, logs, ready)
    _start_capture(rng, desc, logs, ready)
    if desc.sensors.audit.enabled:
        _start_audit(rng, desc, logs, ready)
    rng.save()
    wait_for(ready, READY_TIMEOUT)
    if desc.sensors.audit.enabled:
        etc = [accounts.ETC_NETNS / rng.hosts[h].namespace for h in ("ssh", "web")]
        for rule in audit.default_rules([uid for uid in (rng.uid, rng.web_uid) if uid is not None], etc):
            rng.audit.rules.append(audit.add_rule(rule, rng.audit_key))
            rng.save()


def _plug(rng: Range, desc: Description, host: str, interface: str, segment: str, number: int) -> list[str]:
    """A veth pair from the segment's bridge to `interface` in the host's namespace, with both addresses."""
    switch, ns = rng.segments[segment].namespace, rng.hosts[host].namespace
    port = f"p-{host}"
    run("ip", "-n", switch, "link", "add", port, "type", "veth", "peer", "name", interface, "netns", ns)
    run("ip", "-n", switch, "link", "set", port, "master", "br0", "up")
    addresses = [desc.address(segment, number, family) for family in (4, 6)]
    run("ip", "-n", ns, "addr", "add", f"{addresses[0]}/{desc.prefixlen(segment, 4)}", "dev", interface)
    run("ip", "-n", ns, "addr", "add", f"{addresses[1]}/{desc.prefixlen(segment, 6)}", "dev", interface,
        "nodad")  # fmt: skip
    run("ip", "-n", ns, "link", "set", interface, "up")
    return addresses


def _start(rng: Range, state: HostState, name: str, argv: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    pid = spawn(state.namespace, argv, log)
    state.processes[name] = pid
    rng.save()
    return pid


def _start_router(rng: Range, desc: Description, ready: dict[str, Starting]) -> None:
    ns = rng.hosts["router"].namespace
    made, commands = router.configure(desc, ns)
    rng.paths.extend(made)
    rng.save()
    for argv in commands:
        name = Path(argv[0]).name
        log = rng.root / "router" / f"{name}.log"
        pid = _start(rng, rng.hosts["router"], name, argv, log)
        ready[name] = Starting(pid, lambda: router.ready(ns), (log,))


def _start_web(rng: Range, desc: Description, logs: Path,
               ready: dict[str, Starting]) -> None:  # fmt: skip
    state = rng.hosts["web"]
    run("ip", "netns", "exec", state.namespace, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
    rng.web_uid = accounts.free_uid()
    rng.paths.append(accounts.ETC_NETNS / state.namespace)
    rng.save()
    web.service_account(state.namespace, rng.web_uid, rng.root / "web")
    argv = web.install(desc.web, rng.root / "web", logs / "waf", rng.web_port, rng.web_uid)
    out = rng.root / "web" / "apache2.out"
    pid = _start(rng, state, "apache2", argv, out)
    ready["apache2"] = Starting(pid, lambda: web.ready(logs / "waf"), (out, web.error_log(logs / "waf")))
    rng.sensor_list.append(Sensor("waf", logs / "waf" / "audit.log", "modsecurity"))


def _start_ssh(rng: Range, desc: Description, logs: Path,
               ready: dict[str, Starting]) -> None:  # fmt: skip
    state = rng.hosts["ssh"]
    rng.user, rng.password, rng.uid = desc.ssh.user, desc.ssh.password, accounts.free_uid()
    rng.paths.append(accounts.ETC_NETNS / state.namespace)
    rng.save()
    ssh.drill_user(desc.ssh, state.namespace, rng.uid, rng.root / "home" / desc.ssh.user)
    raw = logs / "ssh" / "sshd.log"
    argv = ssh.configure(desc.ssh, rng.root / "ssh", raw)
    pid = _start(rng, state, "sshd", argv, rng.root / "ssh" / "sshd.out")
    ready["sshd"] = Starting(pid, lambda: ssh.ready(raw), (raw, rng.root / "ssh" / "sshd.out"))
    auth = logs / "ssh" / "auth.log"
    shipper = [sys.executable, "-m", "secops.drills.range.shipper", str(raw), str(auth), "range-ssh",
               str(pid)]  # fmt: skip
    log = rng.root / "ssh" / "shipper.out"
    rng.local["shipper"] = spawn(None, shipper, log, env={**os.environ, "PYTHONPATH": _source_root()})
    rng.save()
    rng.sensor_list.append(Sensor("ssh", auth, "auth"))


def _start_capture(rng: Range, desc: Description, logs: Path,
                   ready: dict[str, Starting]) -> None:  # fmt: skip
    capture = desc.sensors.capture
    state = rng.segments[capture.segment]
    log = rng.root / "capture" / "tshark.out"
    pid = _start(rng, state, "tshark", sensors.capture_argv(capture, "br0", logs / "pcap"), log)
    ready["tshark"] = Starting(pid, lambda: sensors.capture_ready(log), (log,))
    rng.sensor_list.append(Sensor("pcap", logs / "pcap", "pcap"))


def _start_audit(rng: Range, desc: Description, logs: Path,
                 ready: dict[str, Starting]) -> None:  # fmt: skip
    conf = rng.root / "audit-conf"
    pid, rng.audit.enabled_before = audit.start(desc.sensors.audit.auditd, conf, logs / "audit")
    rng.audit.pid = pid
    rng.save()
    ready["auditd"] = Starting(pid, lambda: audit.owns_socket(pid), (conf / "auditd.out",))
    rng.sensor_list.append(Sensor("audit", logs / "audit" / "audit.log", "auditd"))


def _source_root() -> str:
    """The directory holding the `secops` package, so the shipper imports this very code."""
    return str(Path(__file__).resolve().parents[3])
