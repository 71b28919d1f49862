"""The data-recovery drill (数据恢复演练): back up a store, destroy it, restore it, prove nothing was lost.

A backup set holds the event store (a SQLite online-backup copy, or an Elasticsearch snapshot), the case
store (alerts, incidents, response actions), the ES spool (follower positions, undelivered events), the
detection window snapshot and the audit trail, each sealed with SM4-GCM, and a manifest with their SM3
digests, a census of the store (counts and digests of sorted ids per dataset and case table) and the
audit chain's head. Nothing is destroyed until every sealed file has been opened again and matched its
digest, and only the store named to the drill (and the state kept with it) is ever destroyed.

RTO is the time from the start of destruction to a verified restore. RPO is what a restore from this
backup loses: the time from the backup's newest event to the store's newest when it was destroyed, and
the events written in between (`writes_after` writes some, to show it).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.engine import make_url

from egovops.audit import AuditTrail
from egovops.security.sealed import SealingKey
from secops.drills.backup import (
    BackupError,
    BackupFile,
    check_file,
    copy_sqlite,
    open_bytes,
    remove_sqlite,
    restore_file,
    seal_bytes,
    seal_file,
    sealed_path,
    shared_lock,
)
from secops.drills.census import (
    CASE_TABLES,
    Census,
    IdSet,
    elasticsearch_events,
    sqlite_cases,
    sqlite_events,
)
from secops.drills.snapshot import (
    SnapshotRef,
    delete_indices,
    drop_repository,
    live_indices,
    repository_root,
    restore_snapshot,
    take_snapshot,
)
from secops.events import Event, event_id, format_ts, parse_iso, utc_now
from secops.store import Query, Store, StoreError, open_store
from secops.store.elasticsearch import ElasticsearchStore

MANIFEST = "manifest.json"
SNAPSHOT = "snapshot/"
"""Names in the set under this prefix are the files of the Elasticsearch snapshot repository."""
DRILL_DATASET = "egovops.drill"
"""The dataset of the events the drill writes after its backup (the ones a restore loses)."""
Kind = Literal["sqlite", "file", "audit"]


class RecoveryError(BackupError):
    """The drill stopped; the message says where, and where the sealed backup is kept."""


@dataclass(frozen=True)
class Part:
    """One local file of the store's state: its name in the backup set, its path, how it is copied."""

    name: str
    path: Path
    kind: Kind


@dataclass(frozen=True)
class Targets:
    """The store named to the drill and the state kept with it: all the drill may destroy."""

    store_url: str
    cases_url: str
    audit_log: Path
    detection_state: Path
    spool_dir: Path = Path("var/spool")
    index_prefix: str = "egovops"

    @property
    def events_db(self) -> Path | None:
        sqlite = self.store_url.startswith("sqlite:///")
        return Path(self.store_url.removeprefix("sqlite:///")) if sqlite else None

    @property
    def cases_db(self) -> Path:
        url = make_url(self.cases_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            raise RecoveryError(
                f"{self.cases_url}: the drill backs up SQLite case stores; back this database up with its "
                "own tools (pg_dump) and set incidents.cases_url to a SQLite file for the drill"
            )
        return Path(url.database)

    def open(self) -> Store:
        return open_store(self.store_url, spool_dir=self.spool_dir, index_prefix=self.index_prefix)

    def parts(self, store: Store) -> list[Part]:
        """The local files of the store's state, as a backup set names them (whether they exist or not)."""
        found = []
        if self.events_db is not None:
            found.append(Part("events.db", self.events_db, "sqlite"))
        if isinstance(store, ElasticsearchStore):
            found.append(Part("spool.db", store.spool.path, "sqlite"))
        if self.cases_db != self.events_db:
            found.append(Part("cases.db", self.cases_db, "sqlite"))
        found.append(Part("detection.state", self.detection_state, "file"))
        found.append(Part("audit.log", self.audit_log, "audit"))
        return found

    def census_of(self, original: Path, readable: Path, census: Census) -> None:
        """Add what the SQLite file at `readable` (a copy of `original`, or itself) holds to `census`."""
        with closing(sqlite3.connect(readable)) as db:
            if original == self.events_db:
                sqlite_events(db, census)
            if original == self.cases_db:
                sqlite_cases(db, census)


class AuditHead(BaseModel):
    ok: bool
    records: int
    head: str


class Manifest(BaseModel):
    store_url: str
    created: str
    files: list[BackupFile]
    census: Census
    audit: AuditHead
    snapshot: SnapshotRef | None = None


@dataclass(frozen=True)
class CheckedBackup:
    """A backup set every file of which was opened and matched its digest (made by `check_backup` only)."""

    root: Path
    manifest: Manifest


def take_backup(targets: Targets, store: Store, key: SealingKey, work: Path) -> tuple[Path, Manifest]:
    """Seal the store and its state into a new set under `work`; returns its directory and manifest.
    A backup that fails half way is removed (nothing has been destroyed yet)."""
    created = utc_now()
    root = work / f"backup-{created:%Y%m%d-%H%M%S-%f}"
    root.mkdir(parents=True, mode=0o700)
    try:
        manifest = _seal_all(targets, store, key, root, format_ts(created))
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root, manifest


def _seal_all(targets: Targets, store: Store, key: SealingKey, root: Path, created: str) -> Manifest:
    census, files, audit = Census(), [], None
    for part in targets.parts(store):
        if not part.path.exists():
            continue
        if part.kind == "sqlite":
            files.append(_seal_sqlite(targets, key, root, part, census))
        elif part.kind == "audit":
            with shared_lock(part.path) as trail:  # appends wait: the chain head is the file's
                audit = _audit_head(part.path)
                files.append(seal_file(key, root, part.name, part.path, trail))
        else:
            files.append(seal_file(key, root, part.name, part.path))
    snapshot = None
    if isinstance(store, ElasticsearchStore):
        snapshot, sealed = _seal_snapshot(store, key, root, census)
        files.extend(sealed)
    manifest = Manifest(
        store_url=targets.store_url, created=created, files=files, census=census,
        audit=audit or _audit_head(targets.audit_log), snapshot=snapshot,
    )
    document = manifest.model_dump_json(indent=2).encode()
    readable = root / MANIFEST  # for people; restores trust only the sealed copy
    readable.write_bytes(document)
    readable.chmod(0o600)
    seal_bytes(key, root, MANIFEST, document)
    return manifest


def _seal_sqlite(targets: Targets, key: SealingKey, root: Path, part: Part, census: Census) -> BackupFile:
    copy = root / f".{part.name}.copy"
    try:
        copy_sqlite(part.path, copy)
        targets.census_of(part.path, copy, census)
        with copy.open("rb") as stream:
            return seal_file(key, root, part.name, part.path, stream)
    finally:
        copy.unlink(missing_ok=True)


def _seal_snapshot(
    store: ElasticsearchStore, key: SealingKey, root: Path, census: Census
) -> tuple[SnapshotRef | None, list[BackupFile]]:
    """Census the indices, snapshot them, seal the repository's files, then drop the node's copy."""
    store.flush()
    elasticsearch_events(store.client, store.events_pattern, store.deadletter_index, census)
    indices = live_indices(store.client, _patterns(store))
    if not indices:
        return None, []
    location = repository_root(store.client) / root.name
    snapshot = None
    try:
        snapshot = take_snapshot(store.client, location, indices)
        files = [
            seal_file(key, root, SNAPSHOT + path.relative_to(location).as_posix(), path)
            for path in sorted(location.rglob("*"))
            if path.is_file()
        ]
    finally:
        drop_repository(store.client, location, snapshot.name if snapshot else None)
    return snapshot, files


def _patterns(store: ElasticsearchStore) -> list[str]:
    """The store's indices, as patterns: its events and its dead letters."""
    return [store.events_pattern, store.deadletter_index]


def _audit_head(path: Path) -> AuditHead:
    verification = AuditTrail(path).verify()
    return AuditHead(ok=verification.ok, records=verification.records, head=verification.head)


def check_backup(root: Path, key: SealingKey) -> CheckedBackup:
    """Open the sealed manifest and every file it lists into their digests; BackupError names the first
    file that does not open (wrong key, altered chunk, missing) or does not match."""
    manifest = Manifest.model_validate_json(open_bytes(key, root, MANIFEST))
    for entry in manifest.files:
        check_file(key, root, entry)
    return CheckedBackup(root, manifest)


def destroy(targets: Targets, store: Store, checked: CheckedBackup) -> None:
    """Delete the named store and its state (closing `store`); only with a checked backup of that store."""
    if checked.manifest.store_url != targets.store_url:
        raise RecoveryError(
            f"the backup at {checked.root} is of {checked.manifest.store_url}, not of the store named to "
            f"the drill ({targets.store_url}); nothing was destroyed"
        )
    parts = targets.parts(store)
    if isinstance(store, ElasticsearchStore):
        delete_indices(store.client, live_indices(store.client, _patterns(store)))
    store.close()
    for part in parts:
        if part.kind == "sqlite":
            remove_sqlite(part.path)
        else:
            part.path.unlink(missing_ok=True)


def restore(targets: Targets, checked: CheckedBackup, key: SealingKey, parts: list[Part]) -> None:
    """Put every sealed file back where the named store keeps it (`parts`, listed before it was
    destroyed), and the snapshot's indices into Elasticsearch."""
    manifest, root = checked.manifest, checked.root
    places = {part.name: part for part in parts}
    for entry in manifest.files:
        if entry.name.startswith(SNAPSHOT):
            continue
        part = places.get(entry.name)
        if part is None:
            raise RecoveryError(f"{sealed_path(root, entry.name)}: not part of {targets.store_url}'s state")
        if part.kind == "sqlite":
            remove_sqlite(part.path)  # no stale WAL may be replayed onto the restored file
        restore_file(key, root, entry, part.path)
    if manifest.snapshot is not None:
        with targets.open() as store:
            assert isinstance(store, ElasticsearchStore)
            location = repository_root(store.client) / f"{manifest.snapshot.name}-restore"
            try:
                for entry in manifest.files:
                    if entry.name.startswith(SNAPSHOT):
                        restore_file(key, root, entry, location / entry.name.removeprefix(SNAPSHOT))
                restore_snapshot(store.client, location, manifest.snapshot)
            finally:
                drop_repository(store.client, location, None)


class Verified(BaseModel):
    events: int
    datasets: dict[str, int]
    alerts: int
    incidents: int
    response_actions: int
    audit_chain: AuditHead
    problems: list[str]


def verify(targets: Targets, manifest: Manifest) -> Verified:
    """Census the restored store and trail and compare them with the backup's."""
    census = Census()
    with targets.open() as store:
        for part in targets.parts(store):
            if part.kind == "sqlite" and part.path.exists():
                targets.census_of(part.path, part.path, census)
        if isinstance(store, ElasticsearchStore):
            elasticsearch_events(store.client, store.events_pattern, store.deadletter_index, census)
    problems = manifest.census.differences(census)
    audit = _audit_head(targets.audit_log)
    if not audit.ok:
        problems.append(f"the restored audit trail {targets.audit_log} does not verify")
    if (audit.records, audit.head) != (manifest.audit.records, manifest.audit.head):
        problems.append(
            f"audit chain: {audit.records} records, head {audit.head[:16]}… where the backup has "
            f"{manifest.audit.records}, head {manifest.audit.head[:16]}…"
        )
    rows = {name: census.cases.get(name, IdSet()).count for name in CASE_TABLES}
    return Verified(
        events=census.events,
        datasets={name: ids.count for name, ids in census.datasets.items()},
        alerts=rows["alerts"],
        incidents=rows["incidents"],
        response_actions=rows["response_actions"],
        audit_chain=audit,
        problems=problems,
    )


def write_after(store: Store, count: int, now: datetime | None = None) -> None:
    """Write `count` events the backup does not hold: what a restore from it will lose."""
    stamp = format_ts(now or utc_now())
    events = []
    for n in range(count):
        ident = event_id("recovery-drill", stamp, n)
        doc = {
            "@timestamp": stamp,
            "event": {"id": ident, "dataset": DRILL_DATASET, "kind": "event"},
            "message": f"recovery drill: written after the backup ({n + 1} of {count})",
        }
        events.append(Event(ident, stamp, DRILL_DATASET, doc))
    store.write(events)
    store.flush()


class BackupSummary(BaseModel):
    path: str
    bytes: int
    files: int
    seconds: float
    kept: bool


class RestoreSummary(BaseModel):
    seconds: float


class RecoveryReport(BaseModel):
    store: str
    backup: BackupSummary
    restore: RestoreSummary
    verified: Verified
    rto_s: float
    rpo_s: float
    rpo_events: int
    ok: bool
    cpu_s: float


def run_recovery(
    targets: Targets,
    key: SealingKey,
    work: Path,
    *,
    writes_after: int = 0,
    keep_backup: bool = False,
    progress: Callable[[str], None] = lambda _phase: None,
) -> RecoveryReport:
    """Back up, check, (write more,) destroy, restore and verify; the backup is kept unless all is well."""
    cpu = time.process_time()
    store = targets.open()
    try:
        progress("backing up and sealing")
        started = time.perf_counter()
        root, manifest = take_backup(targets, store, key, work)
        backup_s = time.perf_counter() - started
        progress("opening the sealed backup again (decrypt and digest)")
        checked = check_backup(root, key)
        if writes_after:
            progress(f"writing {writes_after} events after the backup")
            write_after(store, writes_after)
        lost_events, lost_s = _recovery_point(store, manifest.census)
        parts = targets.parts(store)
    except BaseException:
        store.close()
        raise
    progress("destroying the store")
    destroyed = time.perf_counter()
    try:
        destroy(targets, store, checked)
        progress("restoring from the sealed backup")
        restore(targets, checked, key, parts)
        restore_s = time.perf_counter() - destroyed
        progress("verifying events, cases and the audit chain")
        verified = verify(targets, manifest)
    except (StoreError, OSError) as exc:  # the store is gone or half back: the backup must stay
        raise RecoveryError(f"{exc}; the sealed backup is kept at {root}") from exc
    rto = time.perf_counter() - destroyed
    ok = not verified.problems
    kept = keep_backup or not ok
    report = RecoveryReport(
        store=targets.store_url,
        backup=BackupSummary(
            path=str(root), bytes=sum(p.stat().st_size for p in root.rglob("*") if p.is_file()),
            files=len(manifest.files), seconds=round(backup_s, 3), kept=kept,
        ),
        restore=RestoreSummary(seconds=round(restore_s, 3)),
        verified=verified,
        rto_s=round(rto, 3),
        rpo_s=round(lost_s, 3),
        rpo_events=lost_events,
        ok=ok,
        cpu_s=round(time.process_time() - cpu, 3),
    )
    AuditTrail(targets.audit_log).append(
        "egovops", "drill.recovery", targets.store_url,
        report.model_dump(include={"ok", "rto_s", "rpo_s", "rpo_events"}) | {"backup": report.backup.path},
    )
    if not kept:
        shutil.rmtree(root)
    return report


def _recovery_point(store: Store, backup: Census) -> tuple[int, float]:
    """Events the store holds beyond the backup, and seconds from the backup's newest event to its own."""
    store.flush()
    events = store.count(Query(limit=None))
    newest = store.search(Query(limit=1))
    seconds = 0.0
    if newest and backup.newest:
        seconds = (parse_iso(str(newest[0]["@timestamp"])) - parse_iso(backup.newest)).total_seconds()
    return max(0, events - backup.events), max(0.0, seconds)
