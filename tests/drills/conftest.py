"""The drill range, once per session: `drill_range` is built from the shipped description and taken down
at session end — checked then to have left nothing behind — also when a test fails."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from secops.drills.range import SHIPPED, Range, running
from tests.components import missing, require_binary

INSTALL = (
    "apt-get install -y apache2 libapache2-mod-security2 modsecurity-crs openssh-server tshark auditd frr"
)


def require_range_tools() -> None:
    """Skip (locally) or fail (CI=true) unless every program of the range is installed and we are root."""
    require_binary("apache2", INSTALL, "/usr/sbin/apache2")
    require_binary("sshd", INSTALL, "/usr/sbin/sshd")
    require_binary("tshark", INSTALL)
    require_binary("auditd", INSTALL, "/usr/sbin/auditd")
    require_binary("zebra", INSTALL, "/usr/lib/frr/zebra")
    if os.geteuid() != 0:
        missing("root (namespaces, auditd and the drill user need it)", "run the tests as root")


def work_dir() -> Path:
    """A fresh directory for a range's work directory, searchable by Apache's www-data."""
    parent = Path(tempfile.mkdtemp(prefix="egovops-range-"))
    parent.chmod(0o755)
    return parent / "range"


def _lines(*argv: str) -> list[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()


def host_links() -> set[str]:
    """The links of the machine's own namespace (a range must never add one)."""
    return {line.split(":")[1].strip() for line in _lines("ip", "-o", "link", "show")}


def processes_with(text: str) -> list[str]:
    """`PID: command line` of every process whose command line contains `text`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv:
            found.append(f"{cmdline.parent.name}: {argv[:120]}")
    return found


def leftovers(prefix: str, root: Path) -> list[str]:
    """Everything a range named `prefix` with work directory `root` could have left behind."""
    namespaces = [line.split()[0] for line in _lines("ip", "netns", "list") if line.strip()]
    found = [f"namespace {ns}" for ns in namespaces if ns.startswith(f"{prefix}-")]
    for where in (Path("/etc/netns"), Path("/etc/frr"), Path("/var/run/frr")):
        found += [f"directory {p}" for p in where.glob(f"{prefix}-*")]
    found += [f"audit rule {r}" for r in _lines("auditctl", "-l") if r.endswith(f"key={prefix}")]
    found += [f"process {p}" for p in processes_with(str(root)) + processes_with(f"{prefix}-")]
    if root.exists():
        found.append(f"work directory {root}")
    return found


@pytest.fixture(scope="session")
def drill_range() -> Iterator[Range]:
    """The shipped range, up; taken down at session end, and then nothing of it may remain."""
    require_range_tools()
    root, prefix = work_dir(), f"egv-drill{os.getpid() % 100000}"
    links = host_links()
    with running(SHIPPED, root, prefix) as rng:
        yield rng
    assert leftovers(prefix, root) == []
    assert host_links() <= links
    root.parent.rmdir()
