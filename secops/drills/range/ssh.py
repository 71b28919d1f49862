"""The range's SSH host: OpenSSH with password logins for one drill user who exists only inside the host's
namespace (`ip netns exec` bind-mounts /etc/netns/NS/passwd, group and shadow over /etc), so the
machine's own accounts are never read or changed; the user's uid is unique, so audit rules can name it.

sshd writes bare messages (`-E`); the shipper process stamps them into the rsyslog-style auth log egovops'
`auth` source reads.
"""

from __future__ import annotations

import pwd
import shutil
from pathlib import Path

from egovops import sshd
from secops.drills.range import accounts
from secops.drills.range.description import Ssh
from secops.drills.range.procs import RangeError, run

LIMITS = ("MaxAuthTries 10", "MaxStartups 100:30:200")
"""Room for a drill's brute force: many tries per connection, many connections at once."""


def drill_user(ssh: Ssh, netns: str, uid: int, home: Path) -> Path:
    """passwd, group and shadow seen only inside `netns`; the directory holding them."""
    try:
        privsep = pwd.getpwnam("sshd")
    except KeyError as exc:
        raise RangeError("sshd's privilege user is missing (apt-get install -y openssh-server)") from exc
    hashed = run("openssl", "passwd", "-6", "-stdin", input=ssh.password).strip()
    etc = accounts.write(
        netns,
        [f"sshd:x:{privsep.pw_uid}:{privsep.pw_gid}::/run/sshd:/usr/sbin/nologin",
         f"{ssh.user}:x:{uid}:{uid}:egovops drill user:{home}:/bin/bash"],
        [f"{ssh.user}:x:{uid}:"],
        ["sshd:*:19000:0:99999:7:::", f"{ssh.user}:{hashed}:19000:0:99999:7:::"],
    )  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    shutil.chown(home, uid, uid)
    home.chmod(0o700)
    return etc


def configure(ssh: Ssh, root: Path, log: Path) -> list[str]:
    """Host key and sshd_config under `root`; sshd's command line."""
    root.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_ed25519"))
    conf = root / "sshd_config"
    conf.write_text(sshd.render(["0.0.0.0", "::"], 22, root / "host_ed25519", root / "sshd.pid", ssh.user,
                                extra=LIMITS))  # fmt: skip
    return [str(ssh.sshd), "-D", "-f", str(conf), "-E", str(log)]


def ready(log: Path) -> bool:
    return log.exists() and "Server listening" in log.read_text(errors="replace")
