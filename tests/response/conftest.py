"""Fixtures for the response tests: the real sshd lab (session), a case store with incidents, configs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from secops.incidents import CaseStore, open_cases
from tests.components.sshd import sshd_lab  # noqa: F401  # the session fixture, registered here
from tests.incidents.helpers import FakeClock


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "egovops.db"


@pytest.fixture
def cases(db: Path) -> Iterator[CaseStore]:
    store = open_cases(f"sqlite:///{db}", clock=FakeClock())
    yield store
    store.close()
