"""The real OpenSSH server in a network namespace, and an attacker namespace joined to it by veth.

sshd runs as `sshd -D -f CONF -E LOGFILE` with a test host key and password authentication for a test
user who exists only inside the server namespace: `ip netns exec` bind-mounts the namespace's own
`/etc/netns/NAME/passwd` and `shadow` over the host's, so the host's accounts are neither read nor changed.

sshd writes bare messages to its log file (no time, host or program: that is syslog's job), so a
shipper thread stamps each line as it appears into an auth log in the rsyslog ISO layout, as journald
or rsyslog would; that auth log is what egovops ingests.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from egovops import sshd as sshd_config
from secops.drills.range.shipper import LineStamper
from tests.components import missing, require_binary
from tests.components.netns import Netns, linked_pair

INSTALL = "apt-get install -y openssh-server openssh-client"
USER = "egovops-test"
PASSWORD = "correct-horse-battery-staple"
HOSTNAME = "egovops-sshd"
PORT = 22


ASKPASS = "#!/bin/sh\necho 'not-the-password'\n"
"""What the brute-forcing `ssh` answers to every password prompt (SSH_ASKPASS, forced)."""

CONNECT_PROBE = (
    "import socket, sys\n"
    "try:\n"
    "    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:\n"
    "        sys.stdout.write(s.recv(64).decode(errors='replace'))\n"
    "except OSError as exc:\n"
    "    sys.stdout.write(f'ERROR {exc}')\n"
)


class LogShipper(threading.Thread):
    """The range's line stamper (`secops.drills.range.shipper`), driven from a thread."""

    def __init__(self, source: Path, target: Path, pid: int) -> None:
        super().__init__(daemon=True)
        self.stamper = LineStamper(source, target, HOSTNAME, pid)
        self.stop = threading.Event()

    def run(self) -> None:
        self.stamper.follow(self.stop)


@dataclass
class SshdLab:
    server: Netns
    attacker: Netns
    root: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    shipper: LogShipper | None = field(default=None, repr=False)

    @property
    def sshd_log(self) -> Path:
        return self.root / "sshd.log"

    @property
    def auth_log(self) -> Path:
        """The stamped log egovops ingests."""
        return self.root / "auth.log"

    def failed_logins(self) -> int:
        if not self.auth_log.exists():
            return 0
        return self.auth_log.read_text(encoding="utf-8").count(f"Failed password for {USER} from")

    def brute_force(self, connections: int, tries: int = 3) -> None:
        """`connections` ssh logins from the attacker namespace, each trying `tries` wrong passwords;
        returns once sshd's failures are in the auth log."""
        before = self.failed_logins()
        env = {**os.environ, "SSH_ASKPASS": str(self.root / "askpass"), "SSH_ASKPASS_REQUIRE": "force",
               "DISPLAY": ":0"}  # fmt: skip
        options = [
            "-F", "/dev/null", "-p", str(PORT),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "PreferredAuthentications=password", "-o", f"NumberOfPasswordPrompts={tries}",
            "-o", "ConnectTimeout=5",
        ]  # fmt: skip
        for _ in range(connections):
            subprocess.run(
                self.attacker.argv("ssh", *options, f"{USER}@{self.server.address}", "true"),
                env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        wanted, deadline = before + connections * tries, time.monotonic() + 10
        while self.failed_logins() < wanted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.failed_logins() >= wanted, self.sshd_log.read_text(errors="replace")

    def connect_from_attacker(self, timeout: float = 2.0) -> str:
        """A TCP connect from the attacker namespace: sshd's banner, or `ERROR ...` when it fails."""
        result = self.attacker.run(
            sys.executable,
            "-c",
            CONNECT_PROBE,
            self.server.address,
            str(PORT),
            str(timeout),
            timeout=timeout + 30,
        )
        return result.stdout

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.shipper is not None:
            self.shipper.stop.set()
            self.shipper.join()
            self.shipper = None


def _accounts(server: Netns) -> None:
    """passwd/shadow seen inside the server namespace only: root, sshd's privilege-separation user and
    the test user with a SHA-512 crypt password."""
    try:
        privsep = pwd.getpwnam("sshd")
    except KeyError:
        missing("the sshd privilege-separation user (openssh-server)", INSTALL)
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", PASSWORD], capture_output=True, text=True, check=True
    ).stdout.strip()
    server.etc_dir.mkdir(parents=True, exist_ok=True)
    (server.etc_dir / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        f"sshd:x:{privsep.pw_uid}:{privsep.pw_gid}::/run/sshd:/usr/sbin/nologin\n"
        f"{USER}:x:4242:4242:egovops test:/tmp:/bin/sh\n"
    )
    shadow = server.etc_dir / "shadow"
    shadow.write_text(
        f"root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n{USER}:{hashed}:19000:0:99999:7:::\n"
    )
    shadow.chmod(0o600)


def start_sshd(server: Netns, attacker: Netns) -> SshdLab:
    sshd = require_binary("sshd", INSTALL, "/usr/sbin/sshd")
    require_binary("ssh", INSTALL)
    require_binary("openssl", "apt-get install -y openssl")
    root = Path(tempfile.mkdtemp(prefix="egovops-sshd-"))
    lab = SshdLab(server=server, attacker=attacker, root=root)
    _accounts(server)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_ed25519")], check=True
    )
    (root / "askpass").write_text(ASKPASS)
    (root / "askpass").chmod(0o755)
    conf = root / "sshd_config"
    conf.write_text(sshd_config.render([server.address], PORT, root / "host_ed25519", root / "sshd.pid", USER,
                                       extra=["MaxAuthTries 10"]))  # fmt: skip
    lab.process = subprocess.Popen(
        server.argv(sshd, "-D", "-f", str(conf), "-E", str(lab.sshd_log)),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    lab.shipper = LogShipper(lab.sshd_log, lab.auth_log, lab.process.pid)
    lab.shipper.start()
    deadline = time.monotonic() + 20
    while "Server listening" not in (
        lab.sshd_log.read_text(errors="replace") if lab.sshd_log.exists() else ""
    ):
        if lab.process.poll() is not None or time.monotonic() > deadline:
            log = lab.sshd_log.read_text(errors="replace") if lab.sshd_log.exists() else ""
            lab.stop()
            raise RuntimeError(f"sshd did not start: {log}")
        time.sleep(0.05)
    return lab


@pytest.fixture(scope="session")
def sshd_lab() -> Iterator[SshdLab]:
    """sshd in one namespace, an attacker in another; both namespaces and sshd go at session end."""
    with linked_pair("ssh") as (server, attacker):
        lab = start_sshd(server, attacker)
        try:
            yield lab
        finally:
            lab.stop()
            shutil.rmtree(lab.root, ignore_errors=True)
