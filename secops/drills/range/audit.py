"""The range's host sensor: the real auditd (`auditd -n -c DIR`) writing the range's own audit log, with
rules scoped to the drill user's uid so only the range's activity is recorded.

The kernel has one audit socket and one auditd may own it: another owner is an error the user can act on.
Every rule carries the range's key (`-k`), so `down` removes exactly the range's rules — all of them at
once with `auditctl -D` only when nobody else has any.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from secops.drills.range.procs import RangeError, alive, run, spawn

CONF = """\
local_events = yes
write_logs = yes
log_file = {log}
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 20
max_log_file = 50
num_logs = 5
max_log_file_action = ROTATE
name_format = NONE
space_left = 75
space_left_action = IGNORE
admin_space_left = 50
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
transport = TCP
q_depth = 2000
overflow_action = IGNORE
plugin_dir = {plugins}
end_of_event_timeout = 2
"""

WATCHED = ("/etc/passwd", "/etc/shadow", "/etc/sudoers", "/etc/crontab")
WATCHED_DIRS = ("/etc/sudoers.d", "/var/spool/cron", "/etc/audit")


def status() -> dict[str, int]:
    """`auditctl -s` as numbers (enabled, pid, ...)."""
    fields = (line.split(maxsplit=1) for line in run("auditctl", "-s").splitlines())
    return {f[0]: int(f[1].split()[0]) for f in fields if len(f) == 2 and f[1].split()[0].isdigit()}


def check_free() -> dict[str, int]:
    """The kernel's audit status; RangeError when another auditd owns the audit socket."""
    current = status()
    if current.get("pid", 0) and alive(current["pid"]):
        raise RangeError(
            f"another auditd (PID {current['pid']}) owns the kernel audit socket; stop it "
            "(systemctl stop auditd) or set sensors.audit.enabled: false in the description"
        )
    return current


def start(auditd: Path, conf_dir: Path, log_dir: Path) -> tuple[int, int]:
    """Start auditd on its own configuration; (its PID, the kernel's `enabled` flag before it)."""
    before = check_free()
    plugins = conf_dir / "plugins.d"
    plugins.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    conf = conf_dir / "auditd.conf"
    conf.write_text(CONF.format(log=log_dir / "audit.log", plugins=plugins))
    conf.chmod(0o640)
    pid = spawn(None, [str(auditd), "-n", "-c", str(conf_dir)], conf_dir / "auditd.out")
    return pid, before.get("enabled", 0)


def owns_socket(pid: int) -> bool:
    return status().get("pid") == pid


def default_rules(uids: list[int], namespace_etcs: list[Path]) -> list[list[str]]:
    """Per range account: the commands it runs, and its writes to accounts, sudoers, cron and audit
    configuration — the host's files and the namespaces' own copies (bind-mounted over /etc)."""
    own = [str(etc / name) for etc in namespace_etcs for name in ("passwd", "shadow")]
    return [rule for uid in uids for rule in _rules(uid, own)]


def _rules(uid: int, own: list[str]) -> list[list[str]]:
    rules = [["-a", "always,exit", "-F", f"arch={arch}", "-S", "execve", "-F", f"uid={uid}"]
             for arch in ("b64", "b32")]  # fmt: skip
    paths = [*WATCHED, *own]
    rules += [["-a", "always,exit", "-F", f"path={p}", "-F", "perm=wa", "-F", f"uid={uid}"]
              for p in paths if Path(p).parent.is_dir()]  # fmt: skip
    rules += [
        ["-a", "always,exit", "-F", f"dir={d}", "-F", "perm=wa", "-F", f"uid={uid}"]
        for d in WATCHED_DIRS
        if Path(d).is_dir()
    ]  # the kernel watches only existing directories
    return rules


def add_rule(argv: list[str], key: str) -> str:
    """Load one `auditctl -a ...` rule tagged with `key`; the rule as recorded (shell-quoted)."""
    if argv[:1] != ["-a"] or len(argv) < 2:
        raise RangeError(f"audit rule {shlex.join(argv)!r}: write it as `-a always,exit -F ...`")
    if "-k" in argv or any(a.startswith("key=") for a in argv):
        raise RangeError(f"audit rule {shlex.join(argv)!r}: leave out the key; the range adds {key}")
    rule = [*argv, "-k", key]
    run("auditctl", *rule)
    return shlex.join(rule)


def remove_rules(rules: list[str], key: str) -> None:
    """Delete the range's rules: `auditctl -D` when every rule loaded is ours, else each one by one."""
    listed = [line for line in run("auditctl", "-l").splitlines() if line.strip() and line != "No rules"]
    if listed and all(line.endswith(f"key={key}") for line in listed):
        run("auditctl", "-D")
        return
    for rule in rules:
        argv = shlex.split(rule)
        argv[0] = "-d"
        try:
            run("auditctl", *argv)
        except RangeError as exc:  # a rule someone else already deleted is gone, as wanted
            if "No such file" not in str(exc) and "does not exist" not in str(exc):
                raise RangeError(f"{exc} (delete it by hand: auditctl -d ...)") from exc


def restore(enabled_before: int) -> None:
    run("auditctl", "-e", str(enabled_before))
