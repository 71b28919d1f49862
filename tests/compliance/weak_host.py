"""A deliberately weak, disposable range host: a real OpenSSH server in a network namespace whose every
file lives under a root directory made for the test (`--host-root`), so hardening it changes nothing of
this machine's own /etc.

Weak on exactly three counts: root may log in by password (PermitRootLogin yes), no failed-login
lockout, no audit rules. Everything else a host check reads is in order — a password policy, distinct
system/security/audit administrators, NTP, log forwarding, a backup job, and the files a ClamAV install
leaves (`clamscan`, a signature database; placeholders, nothing is scanned). The assessor logs in as root
with a key from the other namespace of the pair.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.components import require_binary
from tests.components.netns import Netns, linked_pair
from tests.components.sshd import INSTALL

SSHD_CONFIG = """\
Port 22
ListenAddress {address}
HostKey {root}/etc/ssh/ssh_host_ed25519_key
PidFile {root}/run/sshd.pid
UsePAM no
PermitRootLogin yes
PasswordAuthentication yes
PubkeyAuthentication yes
AuthorizedKeysFile {root}/root/.ssh/authorized_keys
StrictModes no
AllowUsers root egovops-test
Subsystem sftp internal-sftp
"""

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
sshd:x:{sshd_uid}:65534::/run/sshd:/usr/sbin/nologin
egovops-test:x:4242:4242:egovops test:/tmp:/bin/sh
sysadmin:x:5001:5001:系统管理员:/tmp:/bin/sh
secadmin:x:5002:5002:安全管理员:/tmp:/bin/sh
auditor:x:5003:5003:审计管理员:/tmp:/bin/sh
"""

FILES = {
    "etc/login.defs": "PASS_MAX_DAYS\t90\nPASS_MIN_DAYS\t1\nPASS_WARN_AGE\t7\n",
    "etc/pam.d/common-auth": (
        "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n"
        "auth required pam_permit.so\n"
    ),
    "etc/pam.d/common-password": (
        "password requisite pam_pwquality.so retry=3\n"
        "password [success=1 default=ignore] pam_unix.so obscure use_authtok yescrypt\n"
    ),
    "etc/security/pwquality.conf": "minlen = 12\nminclass = 3\n",
    "etc/chrony/chrony.conf": "server 10.150.3.11 iburst\n",
    "etc/rsyslog.conf": "*.* @@10.150.3.10:514\n",
    "etc/cron.d/backup": "30 2 * * * root restic -r sftp:backup@10.150.3.20:/srv/restic backup /srv\n",
    "usr/bin/clamscan": "",
    "var/lib/clamav/daily.cvd": "",
}


KEYGEN = ("ssh-keygen", "-q", "-t", "ed25519", "-N", "")
ROOT_PASSWORD = "root-password"


@dataclass(frozen=True)
class WeakHost:
    server: Netns
    assessor: Netns
    root: Path
    key: Path

    def egovops(self, *args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`egovops ARGS` run from the assessor's namespace (where the host's address is reachable)."""
        python = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python")
        return subprocess.run(
            self.assessor.argv(python, "-m", "egovops", *args), cwd=cwd, input=stdin, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip

    def target(self) -> list[str]:
        return ["--target", self.server.address, "--ssh-key", str(self.key), "--host-root", str(self.root)]


def write_host_files(root: Path, address: str) -> dict[str, str]:
    """The weak host's files under `root` (sshd listening on `address`), with an SSH host key; returns
    the passwd and shadow it holds, for the namespace sshd authenticates against."""
    import pwd

    sshd_uid = pwd.getpwnam("sshd").pw_uid
    hashed = subprocess.run(["openssl", "passwd", "-6", ROOT_PASSWORD], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    today = int(time.time() // 86400)  # password changed today: an expired one would block password logins
    shadow = f"root:{hashed}:{today}:0:90:7:::\nsshd:*:{today}:0:99999:7:::\n" + "".join(
        f"{name}:!:{today}:0:90:7:::\n" for name in ("egovops-test", "sysadmin", "secadmin", "auditor")
    )
    files = {**FILES, "etc/passwd": PASSWD.format(sshd_uid=sshd_uid), "etc/shadow": shadow,
             "etc/ssh/sshd_config": SSHD_CONFIG.format(address=address, root=root)}  # fmt: skip
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "etc/shadow").chmod(0o640)
    (root / "usr/bin/clamscan").chmod(0o755)
    (root / "etc/audit/rules.d").mkdir(parents=True)  # auditd installed, no rules
    (root / "run").mkdir()
    subprocess.run([*KEYGEN, "-f", str(root / "etc/ssh/ssh_host_ed25519_key")], check=True)
    return {"passwd": files["etc/passwd"], "shadow": shadow}


@contextmanager
def weak_host(root: Path) -> Iterator[WeakHost]:
    sshd = require_binary("sshd", INSTALL, "/usr/sbin/sshd")
    require_binary("openssl", "apt-get install -y openssl")
    with linked_pair("dengbao", subnet="10.67.0") as (server, assessor):
        accounts = write_host_files(root, server.address)
        server.etc_dir.mkdir(parents=True, exist_ok=True)  # what sshd itself authenticates against
        for name, text in accounts.items():
            (server.etc_dir / name).write_text(text, encoding="utf-8")
        key = root.parent / "assessor_ed25519"
        subprocess.run([*KEYGEN, "-f", str(key)], check=True)
        (root / "root/.ssh").mkdir(parents=True)
        (root / "root/.ssh/authorized_keys").write_text(Path(f"{key}.pub").read_text())
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = root.parent / "sshd.log"
        process = subprocess.Popen(
            server.argv(sshd, "-D", "-f", str(root / "etc/ssh/sshd_config"), "-E", str(log)),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while "Server listening" not in (log.read_text(errors="replace") if log.exists() else ""):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start: {log.read_text(errors='replace')}")
                time.sleep(0.05)
            yield WeakHost(server=server, assessor=assessor, root=root, key=key)
        finally:
            process.terminate()
            process.wait(timeout=10)
