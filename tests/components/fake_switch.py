"""A Cisco-style access switch for netmiko: the `fake-switches` simulator (Internap, PyPI), serving its
`cisco_generic` model (twelve FastEthernet ports, VLANs, access and trunk ports, `show vlan`,
`write memory`) over real SSH on a free loopback port, once per session, stopped by PID.

Run as `python -m tests.components.fake_switch HOST PORT HOSTNAME USER PASSWORD`, it serves one switch.
Two gaps of the simulator are closed here rather than in the product code, which speaks real IOS: its
`end` (netmiko leaves configuration mode with it) is missing, and its launcher compares the enable
password as bytes with the typed text, so the switch logs users in privileged (`#`), as IOS does for a
privilege-15 account.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.components import missing

INSTALL = (
    ".venv/bin/pip install --no-deps fake-switches==1.5.0 && "
    ".venv/bin/pip install 'twisted[conch]' netaddr tftpy pyasn1 six lxml"
)
REPO = Path(__file__).resolve().parents[2]
HOSTNAME = "city-sw1"
"""The switch's name: the simulator ignores `hostname`, so it starts as the estate's device."""
USER = "egovops"
PASSWORD = "switch-test-password"


@dataclass(frozen=True)
class FakeSwitch:
    host: str
    port: int
    hostname: str
    user: str
    password: str
    pid: int


def serve(host: str, port: int, hostname: str, user: str, password: str) -> None:
    """Serve one cisco_generic switch until killed (the simulator's reactor owns the process)."""
    from fake_switches import switch_factory  # type: ignore[import-untyped]
    from fake_switches.cisco.command_processor.config import (  # type: ignore[import-untyped]
        ConfigCommandProcessor,
    )
    from fake_switches.transports.ssh_service import SwitchSshService  # type: ignore[import-untyped]
    from twisted.internet import reactor

    ConfigCommandProcessor.do_end = ConfigCommandProcessor.do_exit
    core = switch_factory.SwitchFactory().get("cisco_generic", hostname, password, auto_enabled=True)
    users = {user: password.encode()}
    SwitchSshService(ip=host, port=port, switch_core=core, users=users).hook_to_reactor(reactor)
    reactor.run()  # type: ignore[misc]  # twisted's reactor is typed by its zope interfaces


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fake-switches exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
                if conn.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"fake-switches did not listen on {port} within {timeout:.0f} s")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return


@pytest.fixture(scope="session")
def fake_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSwitch]:
    """A running cisco_generic switch on 127.0.0.1, named HOSTNAME, reachable as USER / PASSWORD."""
    if importlib.util.find_spec("fake_switches") is None:
        missing("fake-switches", INSTALL)
    port = _free_port()
    log = tmp_path_factory.mktemp("fake-switch") / "switch.log"
    args = ["127.0.0.1", str(port), HOSTNAME, USER, PASSWORD]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.components.fake_switch", *args],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_listening(proc, port, log)
        yield FakeSwitch("127.0.0.1", port, HOSTNAME, USER, PASSWORD, proc.pid)
    finally:
        _stop(proc.pid)
        proc.wait(timeout=10)


if __name__ == "__main__":
    host, port, hostname, user, password = sys.argv[1:6]
    serve(host, int(port), hostname, user, password)
