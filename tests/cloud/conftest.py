"""The real Keystone + Neutron for the cloud tests (started once per session), and the environment that
points openstacksdk and the audit trail at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.components.openstack import OpenStackServers


@pytest.fixture
def cloud(openstack_servers: OpenStackServers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The cloud's name in clouds.yaml, with OS_CLIENT_CONFIG_FILE and a fresh audit trail set."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(openstack_servers.clouds_yaml))
    monkeypatch.setenv("EGOVOPS_RESPONSE__AUDIT_LOG", str(tmp_path / "audit.log"))
    return openstack_servers.cloud


@pytest.fixture
def admin(openstack_servers: OpenStackServers) -> Iterator[Any]:
    """An admin openstacksdk Connection for looking at (and changing behind egovops's back) the live cloud.

    Typed Any: the tests read attributes of what its finders return, and a None there fails the test."""
    conn = openstack_servers.connect()
    yield conn
    conn.close()
