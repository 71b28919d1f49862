"""`egovops drill recovery`: the data-recovery drill (数据恢复演练) on the named store.

The command only gathers the settings and shows progress; the drill itself is
`secops.drills.recovery.run_recovery`. The drill destroys the store it is named (`--store`, else the
configured one) after its sealed backup has been opened again and checked, and restores it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egovops.cli.common import (
    Exit,
    JsonOpt,
    StoreOpt,
    emit_json,
    err,
    fail,
    out,
    progress_wanted,
    state,
    user_errors,
)


def recovery(
    ctx: typer.Context,
    store: StoreOpt = None,
    work: Annotated[
        Path, typer.Option("--work", metavar="DIR", help="Where the sealed backup set is written.")
    ] = Path("var/recovery"),
    keep_backup: Annotated[
        bool, typer.Option("--keep-backup", help="Keep the sealed backup set after a successful drill.")
    ] = False,
    writes_after: Annotated[
        int,
        typer.Option("--writes-after", min=0, metavar="N",
                     help="Write N events after the backup, to show the recovery point (RPO) they lose."),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Back up the store (sealed with SM4), destroy it, restore it and verify every event, alert,
    incident and the audit chain; report RTO and RPO. Stop `egovops serve` on this store first.
    Exits 1 when verification finds a difference, 4 when the drill could not run (the backup is kept)."""
    from egovops.security.sealed import SecretsError, load_key
    from secops.drills.recovery import Targets, run_recovery
    from secops.incidents.cases import cases_url_for

    with user_errors(as_json):
        settings = state(ctx).settings
        url = store or settings.store.url
        targets = Targets(
            store_url=url,
            cases_url=cases_url_for(url, settings.incidents),
            audit_log=settings.response.audit_log,
            detection_state=settings.detection.state,
            spool_dir=settings.store.spool_dir,
            index_prefix=settings.store.index_prefix,
        )
        try:
            key = load_key(settings.security.key_file, create=True)
        except SecretsError as exc:
            fail(str(exc), Exit.CONFIG, as_json)
        if progress_wanted(as_json):
            with err.status("recovery drill") as status:
                report = run_recovery(
                    targets, key, work, writes_after=writes_after, keep_backup=keep_backup,
                    progress=lambda phase: status.update(f"recovery drill: {phase}"),
                )
        else:
            report = run_recovery(targets, key, work, writes_after=writes_after, keep_backup=keep_backup)
    if as_json:
        emit_json(report.model_dump())
    else:
        verified = report.verified
        out.print(
            f"backup {report.backup.path}: {report.backup.files} files, {report.backup.bytes} bytes sealed "
            f"in {report.backup.seconds:.2f} s{'' if report.backup.kept else ' (removed)'}\n"
            f"restored {verified.events} events, {verified.alerts} alerts, {verified.incidents} incidents; "
            f"audit chain {'intact' if verified.audit_chain.ok else 'BROKEN'}, "
            f"{verified.audit_chain.records} records, head {verified.audit_chain.head}\n"
            f"RTO {report.rto_s:.2f} s; RPO {report.rpo_s:.0f} s, {report.rpo_events} events"
        )
        for problem in verified.problems:
            out.print(f"[bold red]lost:[/] {problem}")
    if not report.ok:
        raise typer.Exit(int(Exit.PARTIAL))
