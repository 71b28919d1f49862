"""One secured control plane for the security tests: the real app (`create_app`) under uvicorn on
127.0.0.1 in this process, so a test can move the session clock; users and tokens of every role, made
with the security store; a store holding incidents that detection raised from the suite's Suricata logs."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from egovops.cli.main import app as cli
from egovops.cli.main import ingest_options
from egovops.config import Settings, load
from egovops.security.roles import Role
from egovops.security.store import SecurityStore
from egovops.web.server import create_app
from tests.components.waf import free_port

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
ROLES = (Role.ADMIN, Role.ANALYST, Role.AUDITOR)
CONFIG = """\
[store]
url = "sqlite:///{home}/var/egovops.db"
spool_dir = "{home}/var/spool"
[detection]
state = "{home}/var/detection.state"
[incidents]
evidence_dir = "{home}/var/evidence"
[response]
audit_log = "{home}/var/audit.log"
modules = ["tests.response.kinds"]
[response.kinds.file-block]
path = "{home}/var/file-block.txt"
[security]
state_dir = "{home}/var"
key_file = "{home}/var/secrets.key"
secrets_file = "{home}/var/secrets.sealed.json"
lockout_threshold = 3
lockout_minutes = 10
idle_timeout = 3600
"""


@dataclass
class Plane:
    """The running control plane: its URL, the app (for its state), the settings and the role tokens."""

    url: str
    app: FastAPI
    settings: Settings
    home: Path
    tokens: dict[Role, str] = field(default_factory=dict)

    @property
    def users(self) -> SecurityStore:
        store: SecurityStore = self.app.state.security
        return store


def write_config(home: Path) -> Path:
    config = home / "egovops.toml"
    config.write_text(CONFIG.format(home=home))
    return config


def csrf_of(session: requests.Session, url: str) -> str:
    """The session's CSRF token, as the login form carries it."""
    page = session.get(f"{url}/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def log_in(url: str, name: str, password: str = PASSWORD) -> requests.Session:
    session = requests.Session()
    token = csrf_of(session, url)
    answer = session.post(
        f"{url}/login",
        data={"username": name, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return session


@pytest.fixture(scope="session")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    home = tmp_path_factory.mktemp("plane")
    config = write_config(home)
    ingested = CliRunner().invoke(
        cli, ["--config", str(config), "ingest", str(REPO / "tests/data/suricata"), "--json"]
    )
    assert ingested.exit_code == 0, ingested.output
    settings = load(config)
    app = create_app(settings, None, home / "inbox", ingest_options(settings, None))
    running = Plane("", app, settings, home)
    for role in ROLES:
        running.users.add_user(role.value, role, PASSWORD)
        running.tokens[role] = running.users.create_token(f"{role.value}-script", role)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    running.url = f"http://127.0.0.1:{port}"
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def sessions(plane: Plane) -> dict[Role, requests.Session]:
    """A logged-in browser-like session per role (cookie jar), shared by the read-only tests."""
    return {role: log_in(plane.url, role.value) for role in ROLES}
