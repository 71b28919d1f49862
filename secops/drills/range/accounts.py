"""Accounts that exist only inside one namespace: `ip netns exec NS` bind-mounts /etc/netns/NS/passwd,
group and shadow over /etc, so the machine's own accounts are neither read nor changed. Each range account
gets a uid no host or namespace account uses, so audit rules naming it record the range's activity only."""

from __future__ import annotations

import pwd
from pathlib import Path

from secops.drills.range.procs import RangeError

ETC_NETNS = Path("/etc/netns")
UIDS = range(42100, 43000)


def _taken_uids() -> set[int]:
    """Uids of the host's accounts and of every namespace's own passwd (other ranges, test beds)."""
    taken = {p.pw_uid for p in pwd.getpwall()}
    for passwd in ETC_NETNS.glob("*/passwd"):
        for line in passwd.read_text(errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit():
                taken.add(int(fields[2]))
    return taken


def free_uid() -> int:
    """A uid nobody uses yet; write the account's passwd before asking for the next one."""
    taken = _taken_uids()
    for uid in UIDS:
        if uid not in taken:
            return uid
    raise RangeError(
        f"no free uid in {UIDS.start}-{UIDS.stop - 1} for a range account (take old ranges down)"
    )


def write(netns: str, passwd: list[str], group: list[str], shadow: list[str]) -> Path:
    """passwd, group and shadow lines (root's first) for `netns`; the directory holding them."""
    etc = ETC_NETNS / netns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text("".join(f"{line}\n" for line in ["root:x:0:0:root:/root:/bin/sh", *passwd]))
    (etc / "group").write_text("".join(f"{line}\n" for line in ["root:x:0:", "nogroup:x:65534:", *group]))
    file = etc / "shadow"
    file.write_text("".join(f"{line}\n" for line in ["root:*:19000:0:99999:7:::", *shadow]))
    file.chmod(0o600)
    return etc
