"""The data-recovery drill on real stores filled from real corpus data: SQLite (events, cases, response
actions, detection state, audit trail) and the session's Elasticsearch node (snapshot and restore)."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from egovops.audit import AuditTrail
from egovops.cli.main import app
from egovops.security.sealed import (
    STREAM_MAGIC,
    SealingKey,
    SecretsError,
    load_key,
    seal_stream,
    unseal_stream,
)
from secops.detection.detector import Detector
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from secops.drills.backup import BackupError, check_file, sealed_path
from secops.drills.recovery import (
    DRILL_DATASET,
    RecoveryError,
    Targets,
    check_backup,
    destroy,
    run_recovery,
    take_backup,
)
from secops.incidents.cases import open_cases
from secops.ingest.pipeline import Ingestor
from secops.response.schema import ActionRow, create_tables
from secops.store import Query
from secops.store.elasticsearch import ElasticsearchStore
from tests.components import corpus
from tests.components.elasticsearch import ElasticsearchServer

SLICE = [
    ("crowdsec-hub", ".tests", "ssh-slow-bf", "ssh-slow-bf.log"),
    ("crowdsec-hub", ".tests", "sshd-logs", "sshd-logs.log"),
    ("crowdsec-hub", ".tests", "suricata-eve-detect", "suricata-eve-detect.log"),
    ("crowdsec-hub", ".tests", "auditd-base64-exec", "auditd-base64-exec.log"),
    ("go-libaudit", "auparse", "testdata", "audit-rhel7.log"),
]
"""Real logs (sshd brute force, Suricata EVE alerts, auditd), read in place from ../shared/corpora."""
AUDIT_RECORDS = 4


def fill(targets: Targets) -> None:
    """Ingest the slice through the real pipeline with detection on, add a response action and an
    audit trail: the state a SOC keeps."""
    cases = open_cases(targets.store_url, targets.cases_url)
    detector = Detector(RuleSet.load([BUILTIN_RULES]), cases, state_path=targets.detection_state)
    with targets.open() as store:
        report = Ingestor(store, observer=detector.observe).run([str(corpus(*p)) for p in SLICE])
        assert report.accepted >= 100 and not report.errors, report.as_dict()
    detector.finish(final=True)
    with cases.engine.begin() as connection:
        create_tables(connection)
    with cases.writing() as session:
        [first] = cases.incidents(limit=1)
        session.add(ActionRow(
            incident_id=first.id, kind="nft-deny", impact="low", params={"address": "192.0.2.7"},
            state="executed", requested_by="alice", requested_at=datetime(2026, 11, 22, tzinfo=UTC),
            outputs={},
        ))  # fmt: skip
    cases.close()
    trail = AuditTrail(targets.audit_log)
    for n in range(AUDIT_RECORDS):
        trail.append("alice", "incident.acknowledge", f"incident:{n + 1}", {"note": "drill data"})


def sqlite_targets(root: Path) -> Targets:
    url = f"sqlite:///{root / 'var' / 'egovops.db'}"
    return Targets(url, url, root / "var" / "audit.log", root / "var" / "detection.state", root / "spool")


def event_ids(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM events ORDER BY id")]


def case_rows(db: Path) -> dict[str, list[object]]:
    with closing(sqlite3.connect(db)) as conn:
        return {
            table: [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id")]
            for table in ("alerts", "incidents", "response_actions")
        }


@pytest.fixture
def key(tmp_path: Path) -> SealingKey:
    return load_key(tmp_path / "secrets.key", create=True)


def test_sealed_streams_refuse_moved_reordered_and_cut_chunks(key: SealingKey) -> None:
    plain = bytes(range(256)) * 4
    sealed = io.BytesIO()
    assert seal_stream(key, io.BytesIO(plain), sealed, "events.db", chunk_size=100) == len(plain)
    data = sealed.getvalue()
    head, record = len(STREAM_MAGIC) + len(key.key_id), 12 + 5 + 100 + 16
    chunks = [data[head + n * record : head + (n + 1) * record] for n in range(10)]
    opened = io.BytesIO()
    assert unseal_stream(key, io.BytesIO(data), opened, "events.db") == len(plain)
    assert opened.getvalue() == plain

    swapped = data[:head] + chunks[1] + chunks[0] + b"".join(chunks[2:]) + data[head + 10 * record :]
    refused = [
        (data, "cases.db", "chunk 0 does not open"),  # moved to another file's name
        (swapped, "events.db", "chunk 0 does not open"),
        (data[: head + 3 * record], "events.db", "cut short before chunk 3"),
        (data + chunks[0], "events.db", "data after the last sealed chunk"),
    ]
    for stream, name, message in refused:
        with pytest.raises(SecretsError, match=f"^{name}: {message}"):
            unseal_stream(key, io.BytesIO(stream), io.BytesIO(), name)


@pytest.fixture
def soc(tmp_path: Path) -> Targets:
    targets = sqlite_targets(tmp_path / "soc")
    fill(targets)
    return targets


def test_sqlite_drill_restores_every_event_case_and_the_audit_chain(
    soc: Targets, key: SealingKey, tmp_path: Path
) -> None:
    assert soc.events_db is not None
    ids, cases = event_ids(soc.events_db), case_rows(soc.events_db)
    chain = AuditTrail(soc.audit_log).verify()
    state = soc.detection_state.read_bytes()
    with soc.open() as store:
        per_dataset = store.stats().per_dataset
    assert cases["alerts"] and cases["incidents"] and len(cases["response_actions"]) == 1

    report = run_recovery(soc, key, tmp_path / "work")

    assert report.ok and report.verified.problems == []
    assert report.verified.events == len(ids) and report.verified.datasets == per_dataset
    assert event_ids(soc.events_db) == ids and case_rows(soc.events_db) == cases
    verified = report.verified
    assert verified.alerts == len(cases["alerts"]) and verified.incidents == len(cases["incidents"])
    assert report.verified.audit_chain.ok and report.verified.audit_chain.head == chain.head
    assert report.verified.audit_chain.records == AUDIT_RECORDS
    assert soc.detection_state.read_bytes() == state
    assert (report.rpo_events, report.rpo_s) == (0, 0.0)
    assert report.backup.files == 3 and not report.backup.kept and not Path(report.backup.path).exists()
    after = list(AuditTrail(soc.audit_log).records())
    assert [r.action for r in after[AUDIT_RECORDS:]] == ["drill.recovery"] and after[-1].detail["ok"] is True


def test_events_written_after_the_backup_are_the_recovery_point(
    soc: Targets, key: SealingKey, tmp_path: Path
) -> None:
    assert soc.events_db is not None
    ids = event_ids(soc.events_db)

    report = run_recovery(soc, key, tmp_path / "work", writes_after=7, keep_backup=True)

    assert report.ok and report.rpo_events == 7 and report.rpo_s > 0
    assert event_ids(soc.events_db) == ids  # the seven are lost, as the RPO says
    with soc.open() as store:
        assert store.count(Query(datasets=[DRILL_DATASET], limit=None)) == 0
    backup = Path(report.backup.path)
    assert report.backup.kept and sorted(p.name for p in backup.iterdir()) == [
        "audit.log.sm4",
        "detection.state.sm4",
        "events.db.sm4",
        "manifest.json",
        "manifest.json.sm4",
    ]
    manifest = orjson.loads((backup / "manifest.json").read_bytes())
    assert manifest["census"]["newest"] is not None and manifest["audit"]["records"] == AUDIT_RECORDS
    assert {f["name"] for f in manifest["files"]} == {"events.db", "detection.state", "audit.log"}


def test_a_tampered_chunk_is_named_and_nothing_is_destroyed(
    soc: Targets, key: SealingKey, tmp_path: Path
) -> None:
    assert soc.events_db is not None
    ids = event_ids(soc.events_db)
    with soc.open() as store:
        root, _ = take_backup(soc, store, key, tmp_path / "work")
    sealed = sealed_path(root, "events.db")
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 0x01
    sealed.write_bytes(bytes(data))

    with pytest.raises(BackupError, match=r"events\.db\.sm4: events\.db: chunk 0 does not open"):
        check_backup(root, key)
    assert event_ids(soc.events_db) == ids


def test_a_wrong_key_is_reported_as_such_with_the_file(soc: Targets, key: SealingKey, tmp_path: Path) -> None:
    with soc.open() as store:
        root, manifest = take_backup(soc, store, key, tmp_path / "work")
    other = SealingKey(bytes(16), "EGOVOPS_SECRET_KEY")

    with pytest.raises(BackupError, match=r"manifest\.json\.sm4: .*sealed under another key than the one in "
                                          r"EGOVOPS_SECRET_KEY"):  # fmt: skip
        check_backup(root, other)
    [events] = [f for f in manifest.files if f.name == "events.db"]
    with pytest.raises(BackupError, match=r"events\.db\.sm4: events\.db: sealed under another key"):
        check_file(other, root, events)


def test_a_backup_of_another_store_destroys_nothing(soc: Targets, key: SealingKey, tmp_path: Path) -> None:
    with soc.open() as store:
        root, _ = take_backup(soc, store, key, tmp_path / "work")
    checked = check_backup(root, key)
    other = sqlite_targets(tmp_path / "other")
    fill(other)
    assert other.events_db is not None
    ids = event_ids(other.events_db)

    with other.open() as store, pytest.raises(RecoveryError, match="not of the store named to the drill"):
        destroy(other, store, checked)
    assert event_ids(other.events_db) == ids and other.audit_log.exists()


def test_cli_prints_the_drill_as_json(soc: Targets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "EGOVOPS_STORE__URL": soc.store_url,
        "EGOVOPS_RESPONSE__AUDIT_LOG": str(soc.audit_log),
        "EGOVOPS_DETECTION__STATE": str(soc.detection_state),
        "EGOVOPS_SECURITY__KEY_FILE": str(tmp_path / "cli.key"),
    }
    arguments = ["drill", "recovery", "--work", str(tmp_path / "work"), "--writes-after", "2", "--json"]
    result = CliRunner().invoke(app, arguments, env=env)

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["ok"] is True and report["rpo_events"] == 2
    assert report["verified"]["events"] > 100 and report["verified"]["incidents"] >= 1
    assert report["verified"]["audit_chain"]["records"] == AUDIT_RECORDS
    assert {"path", "bytes", "files", "seconds"} <= report["backup"].keys() and "seconds" in report["restore"]
    assert report["rto_s"] > 0 and (tmp_path / "cli.key").exists()


@pytest.fixture
def es_soc(elasticsearch: ElasticsearchServer, tmp_path: Path) -> Iterator[Targets]:
    root = tmp_path / "es-soc"
    targets = Targets(
        elasticsearch.url,
        f"sqlite:///{root / 'cases.db'}",
        root / "audit.log",
        root / "detection.state",
        spool_dir=root / "spool",
        index_prefix="recovery-drill",
    )
    fill(targets)
    yield targets
    with targets.open() as store:
        assert isinstance(store, ElasticsearchStore)
        store.client.indices.delete(index="recovery-drill-*", ignore_unavailable=True, allow_no_indices=True)


def test_elasticsearch_drill_restores_every_document_from_the_sealed_snapshot(
    es_soc: Targets, key: SealingKey, tmp_path: Path
) -> None:
    with es_soc.open() as store:
        before = {str(doc["event"]["id"]) for doc in store.export()}
        per_dataset = store.stats().per_dataset
    cases = case_rows(es_soc.cases_db)

    report = run_recovery(es_soc, key, tmp_path / "work", writes_after=3)

    assert report.ok, report.verified.problems
    assert report.rpo_events == 3 and report.rpo_s > 0
    with es_soc.open() as store:
        assert isinstance(store, ElasticsearchStore)
        assert {str(doc["event"]["id"]) for doc in store.export()} == before
        assert store.stats().per_dataset == per_dataset == report.verified.datasets
        snapshots = store.client.snapshot.get_repository().body
    assert not snapshots  # the drill's repositories are gone; only the sealed copy was ever restored
    assert report.verified.events == len(before) and case_rows(es_soc.cases_db) == cases
    assert report.backup.files > 5  # the cases, spool, state, trail and the snapshot repository's files
