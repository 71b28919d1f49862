"""Auth log (sshd / PAM / sudo ...): lines per second through the parser (read lines, parse, ECS).

The input is a synthetic `auth.log` in a temporary directory with the mix a server exposed to SSH sees
(mostly brute force: failed passwords, invalid users, PAM failures, preauth disconnects; some logins,
sessions, sudo and cron), random peers, users and ports, a few lines per second. Each pass uses a fresh
source, so the header and address caches start cold as they do on a new file. No floor is set for auth
logs; the store is timed by the pipeline benchmarks, not here.

    .venv/bin/python benchmarks/bench_auth.py [--lines 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.source_only import parse_file
from secops.sources.auth import AuthLog

# (weight, message after the header); {pid} {user} {ip} {port} are filled per line.
MIX = (
    (30, "sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2"),
    (15, "sshd[{pid}]: Invalid user {user} from {ip} port {port}"),
    (10, "sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
         "rhost={ip}  user={user}"),
    (10, "sshd[{pid}]: Connection closed by authenticating user {user} {ip} port {port} [preauth]"),
    (8, "sshd[{pid}]: Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
    (5, "sshd[{pid}]: Disconnected from invalid user {user} {ip} port {port} [preauth]"),
    (4, "sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:kzfjfps/WFgXAdNg"),
    (4, "sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)"),
    (3, "sshd[{pid}]: Unable to negotiate with {ip} port {port}: no matching key exchange method found. "
        "Their offer: diffie-hellman-group14-sha1,diffie-hellman-group1-sha1 [preauth]"),
    (2, "sshd[{pid}]: Did not receive identification string from {ip} port {port}"),
    (3, "sudo:    {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl reload x"),
    (3, "CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
    (2, "systemd-logind[400]: New session {pid} of user {user}."),
    (1, "useradd[{pid}]: new user: name={user}, UID=1002, GID=1002, home=/home/{user}, shell=/bin/bash"),
)  # fmt: skip
USERS = ("root", "admin", "oracle", "test", "ubuntu", "git", "alice", "deploy", "张三")


def build_log(target: Path, lines: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    weights = [weight for weight, _ in MIX]
    moment = datetime(2026, 1, 1)
    with target.open("w", encoding="utf-8") as out:
        for _ in range(lines):
            moment += timedelta(milliseconds=rng.randint(0, 400))
            template = rng.choices(MIX, weights)[0][1]
            peer = ".".join(str(rng.randint(1, 254)) for _ in range(4))
            message = template.format(
                pid=rng.randint(100, 99999), user=rng.choice(USERS), ip=peer, port=rng.randint(1024, 65535)
            )
            out.write(f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S} web01 {message}\n")


def run(path: Path) -> tuple[int, int, float, float]:
    """(events, rejected, wall seconds, CPU seconds) for one pass with a fresh source."""
    started, cpu = time.perf_counter(), time.process_time()
    events, rejected = parse_file(AuthLog(), path)
    return events, rejected, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        path = Path(tmp) / "auth.log"
        build_log(path, args.lines)
        size = path.stat().st_size
        events, rejected, wall, seconds = min((run(path) for _ in range(3)), key=lambda r: r[3])
    result = {
        "lines": args.lines,
        "events": events,
        "rejected": rejected,
        "bytes": size,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(seconds, 3),
        "lines_per_cpu_second": round(args.lines / seconds),
        "lines_per_wall_second": round(args.lines / wall),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"auth log: {args.lines:,} lines ({size / 1e6:.1f} MB), {events:,} events, {rejected} rejected")
    print(f"  {result['lines_per_cpu_second']:,} lines per CPU-second (one core); "
          f"{result['lines_per_wall_second']:,} lines/s wall")


if __name__ == "__main__":
    main()
