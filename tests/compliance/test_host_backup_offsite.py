"""host.backup.offsite: the check-mode playbook lists the copy jobs of a disposable root (cron lines,
cron.daily scripts, systemd timers) with how often they run, and the rule wants one that runs daily and
names a remote target."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from secops.compliance.evidence.host import (
    EVIDENCE_PLAYBOOK,
    HostTarget,
    judge_host,
    load_host_rules,
    run_playbook,
)
from tests.compliance.test_host_evidence import run_of

AT = datetime(2026, 11, 22, tzinfo=UTC)
RULES = load_host_rules()
CHECK = "host.backup.offsite"


@pytest.mark.parametrize(("line", "passed"), [
    ("cron daily /etc/cron.d/dr: 30 1 * * * root rsync -a /srv/ backup@dr.example.gov.cn:/srv/", True),
    ("cron daily /etc/crontab: @daily root borg create ssh://dr/./repo::{now} /srv", True),
    ("cron daily /etc/cron.daily/s3:aws s3 sync /srv s3://city-dr/srv", True),
    ("timer daily (OnCalendar=02:00 ) /etc/systemd/system/r.service:ExecStart=/usr/bin/restic -r "
     "sftp:dr:/restic backup /srv", True),
    ("timer daily (OnCalendar=02:00 ) /etc/systemd/system/r.service:ExecStart=/usr/bin/rsync -a /srv /nas",
     False),  # a local path, whatever the time of day in the prefix
    ("cron less-often /etc/cron.d/dr: 0 3 * * 0 root rsync -a /srv/ dr:/srv/", False),  # weekly
    ("cron daily /etc/cron.d/local: 0 2 * * * root rsync -a /srv/ /var/backups/srv/", False),
])  # fmt: skip
def test_offsite_rule(line: str, passed: bool) -> None:
    stdout = f"{line}\ncopy jobs listed above (none: no copy job scheduled)"
    (result,) = [o for o in judge_host(run_of(backup_offsite=stdout), RULES, AT) if o.check == CHECK]
    assert result.passed is passed


def test_playbook_lists_copy_jobs_with_their_frequency(tmp_path: Path) -> None:
    (tmp_path / "etc/cron.d").mkdir(parents=True)
    (tmp_path / "etc/cron.daily").mkdir()
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    (tmp_path / "etc/crontab").write_text(
        "# m h dom mon dow user command\n0 4 * * 6 root rsync -a /a dr:/a\n"
    )
    (tmp_path / "etc/cron.d/pg").write_text("15 1 * * * postgres pg_dump city > /var/backups/city.sql\n")
    (tmp_path / "etc/cron.daily/local").write_text("#!/bin/sh\nrsync -a /srv /var/backups/srv\n")
    system = tmp_path / "etc/systemd/system"
    (system / "dr-copy.timer").write_text("[Timer]\nOnCalendar=*-*-* 01:30:00\nPersistent=true\n")
    (system / "dr-copy.service").write_text(
        "[Service]\nType=oneshot\nExecStart=/usr/bin/rsync -a /var/backups/ backup@dr.example.gov.cn:/city/\n"
    )
    run = run_playbook(EVIDENCE_PLAYBOOK, HostTarget(root=str(tmp_path)), check=True)
    lines = run.tasks["backup_offsite"].stdout.splitlines()
    assert lines == [
        f"cron less-often {tmp_path}/etc/crontab: 0 4 * * 6 root rsync -a /a dr:/a",
        f"cron daily {tmp_path}/etc/cron.daily/local:rsync -a /srv /var/backups/srv",
        f"timer daily (OnCalendar=*-*-*01:30:00 ) {system}/dr-copy.service:"
        "ExecStart=/usr/bin/rsync -a /var/backups/ backup@dr.example.gov.cn:/city/",
        "copy jobs listed above (none: no copy job scheduled)",
    ]
    (result,) = [o for o in judge_host(run, RULES, AT) if o.check == CHECK]
    assert result.passed is True
    (system / "dr-copy.timer").write_text("[Timer]\nOnCalendar=weekly\n")
    run = run_playbook(EVIDENCE_PLAYBOOK, HostTarget(root=str(tmp_path)), check=True)
    (result,) = [o for o in judge_host(run, RULES, AT) if o.check == CHECK]
    assert result.passed is False
    assert "timer less-often (OnCalendar=weekly )" in result.evidence[0].content
