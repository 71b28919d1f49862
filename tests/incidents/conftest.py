"""Fixtures for the case tests: an event store with real ingested logs, and a case store beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from secops.incidents import CaseStore, open_cases
from secops.store.sqlite import SQLiteStore
from tests.incidents.helpers import AUTH_LOG, DATA, FakeClock, ingest


@pytest.fixture(autouse=True)
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the CLI's changes are audited in these tests (not the working directory's var/)."""
    path = tmp_path / "audit.log"
    monkeypatch.setenv("EGOVOPS_RESPONSE__AUDIT_LOG", str(path))
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "egovops.db"


@pytest.fixture
def auth_store(tmp_path: Path, db: Path) -> Iterator[SQLiteStore]:
    log = tmp_path / "auth.log"
    log.write_text(AUTH_LOG, encoding="utf-8")
    store = ingest(db, log, fmt="auth")
    yield store
    store.close()


@pytest.fixture
def eve_store(db: Path) -> Iterator[SQLiteStore]:
    store = ingest(db, DATA / "suricata", DATA / "modsecurity")
    yield store
    store.close()


@pytest.fixture
def cases(db: Path, clock: FakeClock) -> Iterator[CaseStore]:
    store = open_cases(f"sqlite:///{db}", clock=clock)
    yield store
    store.close()
