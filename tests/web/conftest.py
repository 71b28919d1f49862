"""One real console for the web tests: `egovops serve` under uvicorn on 127.0.0.1 with a temporary
store that holds ingested attack logs (and the incidents detection raised from them), users made with
the security layer's own store, and headless Chromium (Debian's, through Playwright) to drive it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from egovops.cli.common import Exit
from egovops.config import load
from egovops.security.roles import Role
from egovops.security.store import SecurityStore
from tests.components import missing
from tests.components.waf import free_port
from tests.web.payloads import modsecurity_log, payloads

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery staple"
USERS = {"analyst1": Role.ANALYST, "analyst2": Role.ANALYST, "auditor1": Role.AUDITOR, "admin1": Role.ADMIN}
CONFIG = """\
[store]
url = "sqlite:///var/egovops.db"
[serve]
estate = "{estate}"
"""


@dataclass(frozen=True)
class Console:
    url: str
    home: Path


def _ingest(home: Path, *paths: Path) -> None:
    """`egovops ingest` as an operator runs it (detection included); the test data holds a few records
    it must refuse, so "done, some input refused" is the expected outcome."""
    command = [sys.executable, "-m", "egovops", "ingest", *map(str, paths)]
    done = subprocess.run(command, check=False, cwd=home, capture_output=True, text=True, timeout=300)
    assert done.returncode in (Exit.OK, Exit.PARTIAL), done.stderr


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"egovops serve exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"egovops serve did not answer on {url}: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console")
    (home / "egovops.toml").write_text(CONFIG.format(estate=REPO / "stacks" / "shanwei" / "estate.yaml"))
    attack = home / "waf-xss.json"
    attack.write_text(modsecurity_log(payloads()), encoding="utf-8")
    _ingest(home, DATA / "suricata", DATA / "modsecurity", attack)
    settings = load(home / "egovops.toml")
    users = SecurityStore(home / settings.security.state_dir, settings.security)  # the server's cwd is home
    for name, role in USERS.items():
        users.add_user(name, role, PASSWORD)
    users.close()
    port = free_port()
    log = home / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "egovops", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home, stdout=output, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield Console(url, home)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing("chromium", "apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def log_in(browser: Browser, console: Console, name: str) -> Page:
    """A fresh browser context logged in through the real /login form; the page is on the dashboard."""
    page = browser.new_context(base_url=console.url).new_page()
    page.goto("/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/")
    return page
