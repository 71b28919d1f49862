"""sshd_config for the OpenSSH servers egovops starts for itself (test bed routers, the range's SSH host,
test fixtures): password logins for one allowed user, no PAM, no keys, no root, its own PID file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def render(
    listen: Sequence[str],
    port: int,
    host_key: Path,
    pid_file: Path,
    user: str,
    log_level: str = "INFO",
    extra: Sequence[str] = (),
) -> str:
    """The configuration text; `extra` lines (e.g. `MaxAuthTries 10`) go before the log level."""
    lines = [
        f"Port {port}",
        *(f"ListenAddress {address}" for address in listen),
        f"HostKey {host_key}",
        f"PidFile {pid_file}",
        "UsePAM no",
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication no",
        "PermitRootLogin no",
        f"AllowUsers {user}",
        *extra,
        f"LogLevel {log_level}",
    ]
    return "\n".join(lines) + "\n"
