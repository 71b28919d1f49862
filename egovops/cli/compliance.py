"""`egovops compliance`: 等保 2.0 grading — the requirement catalogue, assessments from the estate's
evidence, 整改 diffs, and 测评 reports of stored assessments with their verification."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table

from egovops.cli.common import Exit, JsonOpt, emit_json, err, fail, out, state, user_errors
from secops.compliance.loader import CATALOGUE_DIR, CatalogueError, load_catalogue
from secops.compliance.models import Catalogue, Item

if TYPE_CHECKING:
    from secops.compliance.diff import AssessmentDiff
    from secops.compliance.evidence.assess import Graded, Sources
    from secops.compliance.evidence.host import HostTarget
    from secops.compliance.report.model import Report

app = typer.Typer(help="等保 2.0 (GB/T 22239-2019) grading (docs/compliance.md).", no_args_is_help=True)

CONTRACT = ("id", "category", "control_point", "text", "level", "responsibility")
"""The fields every catalogue item carries in `--json` output (issue 8); more may follow them."""


DbOpt = Annotated[
    str | None,
    typer.Option("--db", metavar="URL", help="Assessment database (default: beside the event store)."),
]


@app.callback()
def compliance() -> None:
    """等保 2.0 (GB/T 22239-2019) grading: the requirement catalogue, 整改 diffs, 测评 reports."""


@app.command()
def catalogue(
    level: Annotated[int, typer.Option("--level", min=2, max=3, help="Protection level: 2 or 3.")],
    cloud: Annotated[
        bool, typer.Option("--cloud", help="Add the cloud-computing extension (云计算安全扩展要求).")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option("--data", metavar="DIR", help="Catalogue directory (default: the one egovops ships)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the requirement items of a level: id, category, control point, how each is assessed and who
    is responsible on a cloud. Exit 5 with file:line:what when a catalogue file is malformed."""
    try:
        items = load_catalogue(level, cloud=cloud, data_dir=data or CATALOGUE_DIR)
    except CatalogueError as exc:
        invalid_data(exc, as_json)
    if as_json:
        emit_json([_row(item) for item in items.items])
        return
    render(items)


@app.command("diff")
def diff_command(
    ctx: typer.Context,
    before: Annotated[str, typer.Argument(help="Id of the earlier assessment.")],
    after: Annotated[str, typer.Argument(help="Id of the later assessment.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two assessments (整改): items fixed, items regressed, new problems."""
    from secops.compliance.diff import IncomparableError, diff
    from secops.compliance.store import AssessmentStore, AssessmentStoreError

    url = _store_url(ctx, db, as_json)
    try:
        with AssessmentStore(url) as store:
            changes = diff(store.get(before), store.get(after))
    except AssessmentStoreError as exc:
        fail(str(exc), Exit.STORE, as_json)
    except IncomparableError as exc:
        fail(str(exc), Exit.USAGE, as_json)
    if as_json:
        emit_json(changes.model_dump(mode="json"))
        return
    for title, rows in (("fixed", changes.fixed), ("regressed", changes.regressed),
                        ("new problems", changes.new_problems)):
        table = Table("id", "before", "after", "risk before", "risk after", title=f"{title}: {len(rows)}")
        for row in rows:
            table.add_row(row.id, *(str(v) if v else "-" for v in
                                    (row.before, row.after, row.before_risk, row.after_risk)))
        out.print(table)


TargetOpt = Annotated[
    str, typer.Option("--target", metavar="local|HOST", help="This machine, or a host over SSH.")
]
SshUserOpt = Annotated[str, typer.Option("--ssh-user", help="SSH login (the reads need root).")]
SshPortOpt = Annotated[int, typer.Option("--ssh-port", min=1, max=65535)]
SshSecretOpt = Annotated[
    str | None,
    typer.Option("--ssh-password-secret", metavar="NAME", help="Sealed secret holding the password."),
]
SshKeyOpt = Annotated[Path | None, typer.Option("--ssh-key", metavar="FILE", help="SSH key file.")]
HostRootOpt = Annotated[
    str, typer.Option("--host-root", metavar="DIR", help="The host's files under DIR instead of /.")
]


@app.command("assess")
def assess_command(
    ctx: typer.Context,
    system: Annotated[str, typer.Option("--system", metavar="NAME", help="The information system graded.")],
    level: Annotated[int, typer.Option("--level", min=2, max=3, help="Protection level: 2 or 3.")],
    target: TargetOpt = "local",
    ssh_user: SshUserOpt = "root",
    ssh_port: SshPortOpt = 22,
    ssh_password_secret: SshSecretOpt = None,
    ssh_key: SshKeyOpt = None,
    host_root: HostRootOpt = "",
    router_config: Annotated[
        list[Path] | None,
        typer.Option("--router-config", metavar="FILE", help="A device's running config (repeatable)."),
    ] = None,
    estate: Annotated[
        Path | None, typer.Option("--estate", metavar="FILE", help="Estate: its routers' rendered configs.")
    ] = None,
    cloud: Annotated[
        bool, typer.Option("--cloud", help="Add the cloud extension, judged on the estate's OpenStack plan.")
    ] = False,
    os_cloud: Annotated[
        str | None,
        typer.Option("--os-cloud", metavar="NAME", help="A live cloud (clouds.yaml); implies --cloud."),
    ] = None,
    waf_config: Annotated[
        list[Path] | None,
        typer.Option("--waf-config", metavar="FILE", help="A ModSecurity configuration (SecRuleEngine)."),
    ] = None,
    no_host: Annotated[bool, typer.Option("--no-host", help="Collect no host evidence.")] = False,
    no_soc: Annotated[bool, typer.Option("--no-soc", help="Collect no evidence from egovops's SOC.")] = False,
    tls: Annotated[
        list[str] | None,
        typer.Option("--tls", metavar="HOST:PORT", help="A TLS endpoint to judge."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grade SYSTEM at a level from evidence: a host (check-mode playbooks), device configurations, the
    estate's cloud plan and egovops's own SOC state. Items no check decides stay 不适用, pending manual
    review. Stores the assessment and shows what changed since the previous one of SYSTEM.
    Exit 2 bad options, 3 unknown secret, 4 store unusable, 5 unreadable input or unreachable host."""
    from secops.compliance.evidence.assess import Sources

    cloud = cloud or os_cloud is not None
    if cloud and estate is None:
        fail("--cloud and --os-cloud judge the estate's tenants: give --estate FILE", Exit.USAGE, as_json)
    host = None if no_host else _host(ctx, target, ssh_user, ssh_port, ssh_password_secret, ssh_key,
                                       host_root, as_json)  # fmt: skip
    with user_errors(as_json):
        settings = None if no_soc else state(ctx).settings
    sources = Sources(host=host, router_configs=router_config or [], estate=estate, cloud=cloud,
                      os_cloud=os_cloud, waf_configs=waf_config or [], settings=settings,
                      tls=[_endpoint(text, as_json) for text in tls or []])  # fmt: skip
    graded = _graded(system, level, sources, target, as_json)
    changes = _store_and_diff(_store_url(ctx, db, as_json), graded, as_json)
    if as_json:
        from secops.compliance.report.summary import assessment_json

        emit_json(assessment_json(graded, changes))
        return
    _render_assessment(graded, changes)


@app.command("harden")
def harden_command(
    ctx: typer.Context,
    target: TargetOpt = "local",
    ssh_user: SshUserOpt = "root",
    ssh_port: SshPortOpt = 22,
    ssh_password_secret: SshSecretOpt = None,
    ssh_key: SshKeyOpt = None,
    host_root: HostRootOpt = "",
    var: Annotated[
        list[str] | None,
        typer.Option("--var", metavar="NAME=VALUE", help="A playbook variable (e.g. sshd_reload_command=)."),
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Show what would change; change nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply playbooks/compliance/harden.yml (root login off, lockout, password policy, audit rules) to a
    host; then `assess` again to see the items fixed. Exit 5 when the host cannot be reached."""
    from secops.compliance.evidence.host import HARDEN_PLAYBOOK, HostError, run_playbook

    extravars = dict(_assignment(text, as_json) for text in var or [])
    host = _host(ctx, target, ssh_user, ssh_port, ssh_password_secret, ssh_key, host_root, as_json)
    try:
        run = run_playbook(HARDEN_PLAYBOOK, host, check=check, extravars=extravars)
    except HostError as exc:
        fail(str(exc), Exit.INPUT, as_json)
    summary = {"host": run.host, "check": run.check, "changed": run.changed, "failed": run.failed,
               "tasks": [{"name": t.name, "changed": t.changed, "failed": t.failed,
                          "output": t.stderr or t.stdout} for t in run.tasks.values()]}  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        out.print(f"{run.host}: {len(run.changed)} tasks changed, {len(run.failed)} failed"
                  + (" (check mode: nothing changed)" if check else ""), markup=False)  # fmt: skip
        for name in run.failed:
            err.print(f"  failed: {name}: {run.tasks[name].stderr or run.tasks[name].stdout}", markup=False)
    if run.failed:
        raise typer.Exit(int(Exit.PARTIAL))


def _assignment(text: str, as_json: bool) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        fail(f"--var {text!r}: write NAME=VALUE (VALUE may be empty)", Exit.USAGE, as_json)
    return name.strip(), value


def _host(ctx: typer.Context, target: str, user: str, port: int, secret: str | None, key: Path | None,
          root: str, as_json: bool) -> HostTarget:  # fmt: skip
    from pydantic import SecretStr

    from secops.compliance.evidence.host import HostTarget

    password = SecretStr(_secret(ctx, secret, as_json)) if secret else None
    return HostTarget(host=target, user=user, port=port, password=password, key_file=key, root=root)


def _secret(ctx: typer.Context, name: str, as_json: bool) -> str:
    from egovops.cli.secrets import sealed

    with sealed(ctx, as_json) as (box, _):  # an unknown name or key problem exits 3 with what to do
        return box.reveal(name)


def _endpoint(text: str, as_json: bool) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"--tls {text!r}: give HOST:PORT, e.g. --tls portal.example.gov.cn:443", Exit.USAGE, as_json)
    return host.strip("[]"), int(port)


def _graded(system: str, level: int, sources: Sources, target: str, as_json: bool) -> Graded:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from egovops.estate import EstateError
    from network.ipam import IpamError
    from secops.compliance.evidence.assess import assess
    from secops.compliance.evidence.cloud import CloudReadError
    from secops.compliance.evidence.crypto import CryptoError
    from secops.compliance.evidence.host import HostError
    from secops.compliance.evidence.network import ConfigError
    from secops.compliance.evidence.waf import WafConfigError

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("collecting evidence")
        try:
            return assess(system, level, sources, target=target,
                          progress=lambda step: bar.update(task, description=step))  # fmt: skip
        except CatalogueError as exc:
            invalid_data(exc, as_json)
        except (HostError, ConfigError, CryptoError, CloudReadError, WafConfigError, EstateError, IpamError,
                OSError) as exc:  # fmt: skip
            fail(str(exc), Exit.INPUT, as_json)


def _store_and_diff(url: str, graded: Graded, as_json: bool) -> AssessmentDiff | None:
    """Save the assessment; the diff against the previous one of the same system and level, if any."""
    from secops.compliance.diff import diff
    from secops.compliance.store import AssessmentStore, AssessmentStoreError

    new = graded.assessment
    try:
        with AssessmentStore(url) as store:
            earlier = [s for s in store.summaries(new.system) if s.level == new.level and s.id != new.id]
            store.save(new, graded.outcome)
            return diff(store.get(earlier[0].id), new) if earlier else None
    except AssessmentStoreError as exc:
        fail(str(exc), Exit.STORE, as_json)


def _render_assessment(graded: Graded, changes: AssessmentDiff | None) -> None:
    new, outcome = graded.assessment, graded.outcome
    table = Table("id", "result", "risk", "failed checks", title="items not compliant")
    for item in new.items:
        if item.checks and item.result.value != "符合":
            failed = ", ".join(o.check for o in item.checks if not o.passed)
            table.add_row(item.item_id, item.result.value, item.risk.value if item.risk else "-", failed)
    out.print(table)
    for problem in graded.high_risks:
        out.print(f"高风险 {problem.rule} {problem.description}: {', '.join(problem.items)}", markup=False)
    decided = sum(1 for item in new.items if item.checks)
    out.print(f"{new.id}: {new.system} level {new.level}: {outcome.score:.2f} {outcome.band}; "
              f"{decided} items decided by checks, {len(new.items) - decided} pending manual review",
              markup=False)  # fmt: skip
    if changes is not None:
        out.print(f"since {changes.before}: {len(changes.fixed)} fixed, {len(changes.regressed)} regressed, "
                  f"{len(changes.new_problems)} new problems", markup=False)  # fmt: skip


class ReportFormat(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    JSON = "json"


@app.command("report")
def report_command(
    ctx: typer.Context,
    assessment_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the stored assessment.")],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="pdf, docx, xlsx or json.")],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE", help="File to write.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the 测评报告 of a stored assessment, stamped with its id and the SM3 digest of its content
    (`compliance verify` checks it). Exit 2 when FILE is a directory or cannot be written."""
    from secops.compliance.report.formats import formats

    if output.is_dir():
        fail(f"{output} is a directory: give a file path (e.g. {output / assessment_id}.{fmt.value})",
             Exit.USAGE, as_json)
    report = _report(ctx, db, as_json)(assessment_id)
    try:
        formats()[fmt.value].write(report, output)
    except OSError as exc:
        fail(f"{output}: cannot write the report: {exc.strerror or exc} (choose a writable path)",
             Exit.USAGE, as_json)
    summary = {"file": str(output), "format": fmt.value, "assessment_id": report.assessment_id,
               "sm3": report.digest(), "score": report.score, "band": report.band}
    if as_json:
        emit_json(summary)
        return
    out.print(f"{output}: {fmt.value} report of {report.assessment_id} ({report.system}, level "
              f"{report.level}): {report.score:.2f} {report.band}; SM3 {summary['sm3']}", markup=False)


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    report_file: Annotated[
        Path, typer.Argument(metavar="REPORT", help="A report `compliance report` wrote.")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a report (any format) against the stored assessment it names: exit 0 when it matches, 1 when
    its digest or content differs (each difference printed), 4 without that assessment, 5 unreadable."""
    from secops.compliance.report.formats import ReportFileError
    from secops.compliance.report.verify import verify

    try:
        verdict = verify(report_file, _report(ctx, db, as_json))
    except ReportFileError as exc:
        fail(str(exc), Exit.INPUT, as_json)
    if as_json:
        emit_json(verdict.model_dump(mode="json"))
    elif verdict.ok:
        out.print(f"ok: {report_file} is the {verdict.format} report of assessment {verdict.assessment_id} "
                  f"(SM3 {verdict.sm3})", markup=False, soft_wrap=True)
    else:
        err.print(f"mismatch: {report_file} ({verdict.format}, assessment {verdict.assessment_id})",
                  markup=False, soft_wrap=True)
        for problem in verdict.problems:
            err.print(f"  {problem}", markup=False, soft_wrap=True)
    if not verdict.ok:
        raise typer.Exit(int(Exit.PARTIAL))


def _store_url(ctx: typer.Context, db: str | None, as_json: bool) -> str:
    """`--db`, or the case database beside the configured event store."""
    from secops.incidents.cases import cases_url_for

    if db:
        return db
    with user_errors(as_json):
        settings = state(ctx).settings
        return cases_url_for(settings.store.url, settings.incidents)


def _report(ctx: typer.Context, db: str | None, as_json: bool) -> Callable[[str], Report]:
    """Builds the report of a stored assessment, turning every user-facing failure into an exit code."""
    from secops.compliance.report.model import report_for
    from secops.compliance.scoring import ScoringError
    from secops.compliance.store import AssessmentStore, AssessmentStoreError

    url = _store_url(ctx, db, as_json)

    def build(assessment_id: str) -> Report:
        try:
            with AssessmentStore(url) as store:
                return report_for(store.get(assessment_id))
        except AssessmentStoreError as exc:
            fail(str(exc), Exit.STORE, as_json)
        except CatalogueError as exc:
            invalid_data(exc, as_json)
        except ScoringError as exc:
            fail(f"assessment {assessment_id} does not fit the catalogue: {exc}", Exit.INPUT, as_json)

    return build


def invalid_data(exc: CatalogueError, as_json: bool) -> NoReturn:
    """Every problem on its own unbroken line (file:line stays clickable), exit 5."""
    if as_json:
        emit_json({"error": "the catalogue data is invalid", "problems": exc.problems,
                   "exit_code": int(Exit.INPUT)})
    else:
        err.print("[bold red]error:[/] the catalogue data is invalid (docs/compliance.md describes it)")
        for problem in exc.problems:
            err.print(problem, markup=False, soft_wrap=True)
    raise typer.Exit(int(Exit.INPUT))


def _row(item: Item) -> dict[str, Any]:
    """Contract fields first, then clause, part, assessment mode and checks."""
    data = item.model_dump(mode="json")
    return {key: data[key] for key in (*CONTRACT, "clause", "part", "assessment", "checks")}


def render(items: Catalogue) -> None:
    table = Table()
    table.add_column("id", no_wrap=True)
    for name in ("control point", "assessed", "responsibility"):
        table.add_column(name)
    table.add_column("requirement", overflow="fold")
    for item in items.items:
        table.add_row(item.id, f"{item.category}/{item.control_point}", item.assessment.value,
                      item.responsibility.value, item.text)
    out.print(table)
    versions = ", ".join(f"{name} {version}" for name, version in items.versions.items())
    out.print(f"level {items.level}{' + cloud' if items.cloud else ''}: {len(items.items)} items in "
              f"{len(items.control_points())} control points ({versions})")
