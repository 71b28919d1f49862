"""The real WAF: Apache + ModSecurity 2 + OWASP CRS 3.3 from the Debian packages, on 127.0.0.1.

It runs the way the CRS 3.3 regression suite ran it (paranoia level 4, DetectionOnly, strict HTTP
parsing, no keep-alive, every path answered by a tiny CGI), so replaying `corpora/crs-regression` yields the
CRS's own verdicts. A marker rule logs a unique request header, which lets a test cut the audit log into
the entries each request produced. Two session instances write the two audit-log formats egovops reads:
native Serial and JSON; a third, started on demand, writes the Concurrent layout (index + storage dir).
An instance started with a `blocklist` denies (403, phase 1) every client address listed in that file,
read with `@ipMatchFromFile`: the block list egovops' `waf-block` response action edits.

httpd.conf is built by the range web host's builder (`secops.drills.range.web.Httpd`), so the product's
WAF and this one share their base; this fixture adds its site, storage layout and the two rules.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from secops.drills.range.web import INSTALL, Httpd, waf_installed
from tests.components import missing, require_binary

MARKER_HEADER = "X-Egovops-Marker"
MARKER_RULE = "9999990"
"""Rule id of the marker rule; its message is the marker value, so parsed events show the cut points."""
BLOCKLIST_RULE = "9999991"
"""Rule id of the block-list deny rule; above the ids a marker removes, so it applies to markers too."""

APACHE_TIMEOUT = 10
CLIENT_TIMEOUT = 2.0
"""Below Apache's `Timeout`: a request that leaves its body short is cut by the client, not the server."""

BLOCKLIST_CONF = """\
SecRule REMOTE_ADDR "@ipMatchFromFile {blocklist}" \\
    "id:{rule},phase:1,deny,status:403,t:none,log,auditlog,msg:'client address on the egovops block list'"
"""

CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n"

SITE = """\
HttpProtocolOptions Strict

DocumentRoot "{root}/htdocs"
ScriptAliasMatch "^/" "{root}/cgi/app.cgi"
<Directory "{root}/cgi">
    Options +ExecCGI
    Require all granted
</Directory>
"""
"""Strict HTTP parsing, and every path answered by the one CGI."""

MODSECURITY = """\
SecAuditLogStorageDir "{root}/audit"
SecAuditLogDirMode 0755
SecAuditLogFileMode 0644

# The marker is logged and then spares its request the CRS: markers add only Apache's own work.
SecRule REQUEST_HEADERS:{marker_header} "@rx ^.*$" \\
    "id:{marker_rule},phase:1,pass,t:none,log,auditlog,msg:'%{{MATCHED_VAR}}',ctl:ruleRemoveById=1-9999989"
{blocklist_rule}"""
"""The Concurrent layout's storage, the marker rule and the block-list rule, ahead of the CRS."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Waf:
    """One running Apache + ModSecurity + CRS; `send` speaks raw HTTP so a test controls every byte."""

    root: Path
    port: int
    log_type: str
    log_format: str
    apache: str = "apache2"
    blocklist: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def audit_log(self) -> Path:
        """The serial log, or the index of the concurrent layout."""
        return self.root / "audit.log"

    @property
    def storage_dir(self) -> Path:
        return self.root / "audit"

    @property
    def reload_command(self) -> list[str]:
        """Apache's graceful restart of this instance: it re-reads its configuration (and block list)."""
        return [self.apache, "-f", str(self.root / "httpd.conf"), "-k", "graceful"]

    def send(self, request: bytes, timeout: float = CLIENT_TIMEOUT, source: str = "127.0.0.1") -> bytes:
        """Send raw bytes from the loopback address `source`, return the raw answer (empty when the
        server said nothing before `timeout`).

        Reads until the server closes: with keep-alive off Apache closes after its logging phase, so
        when this returns the transaction's audit entry is written.
        """
        chunks: list[bytes] = []
        address = ("127.0.0.1", self.port)
        with socket.create_connection(address, timeout=timeout, source_address=(source, 0)) as conn:
            conn.sendall(request)
            deadline = time.monotonic() + timeout
            try:
                while (left := deadline - time.monotonic()) > 0:
                    conn.settimeout(left)
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except (TimeoutError, ConnectionResetError):
                pass
        return b"".join(chunks)

    def mark(self) -> str:
        """Send a marker request; its audit entry closes the group of entries before it."""
        marker = uuid.uuid4().hex
        answer = self.send(
            f"GET /marker HTTP/1.1\r\nHost: localhost\r\n{MARKER_HEADER}: {marker}\r\n"
            "Connection: close\r\n\r\n".encode(),
            timeout=APACHE_TIMEOUT,
        )
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"marker request failed: {answer[:200]!r}")
        return marker

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def start_waf(
    log_type: str = "Serial",
    log_format: str = "Native",
    paranoia: int = 4,
    engine: str = "DetectionOnly",
    blocklist: bool = False,
) -> Waf:
    """Write a private httpd.conf under a fresh directory and start Apache in the foreground on it.

    `engine` On makes the CRS block (anomaly score over the threshold → 403, `Action: Intercepted`).
    `blocklist` adds the deny rule over `ROOT/blocklist.txt` (created empty), as `Waf.blocklist`.
    """
    apache = require_binary("apache2", INSTALL, "/usr/sbin/apache2")
    if not waf_installed():
        missing("ModSecurity 2 with the OWASP CRS", INSTALL)
    # Apache's children run as www-data: the tree must be readable (CGI) and the storage dir writable.
    root = Path(tempfile.mkdtemp(prefix="egovops-waf-"))
    root.chmod(0o755)
    for sub in ("run", "htdocs", "cgi", "modsec-data", "modsec-tmp", "audit"):
        (root / sub).mkdir()
    for sub in ("modsec-data", "modsec-tmp", "audit"):
        shutil.chown(root / sub, "www-data", "www-data")
    script = root / "cgi" / "app.cgi"
    script.write_text(CGI)
    script.chmod(0o755)
    waf = Waf(root=root, port=free_port(), log_type=log_type, log_format=log_format, apache=apache)
    blocklist_rule = ""
    if blocklist:
        waf.blocklist = root / "blocklist.txt"
        waf.blocklist.touch()
        blocklist_rule = BLOCKLIST_CONF.format(blocklist=waf.blocklist, rule=BLOCKLIST_RULE)
    conf = root / "httpd.conf"
    modsecurity = MODSECURITY.format(
        root=root, marker_header=MARKER_HEADER, marker_rule=MARKER_RULE, blocklist_rule=blocklist_rule
    )
    httpd = Httpd(
        root=root, logs=root, listen=f"127.0.0.1:{waf.port}", user="www-data", engine=engine,
        paranoia=paranoia, site=SITE.format(root=root), start_servers=4, max_spare=8, timeout=APACHE_TIMEOUT,
        audit_type=log_type, audit_format=log_format, modsecurity=modsecurity,
    )  # fmt: skip
    conf.write_text(httpd.render())
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C"}
    # Its own session: on stop, prefork signals its whole process group, which must not be ours.
    with (root / "stderr.log").open("wb") as stderr:
        waf.process = subprocess.Popen(
            [apache, "-f", str(conf), "-DFOREGROUND"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if waf.process.poll() is not None:
            err = (root / "stderr.log").read_text(errors="replace")
            log = (root / "error.log").read_text(errors="replace") if (root / "error.log").exists() else ""
            waf.process = None
            raise RuntimeError(f"apache2 exited at start: {err}{log}")
        try:
            with socket.create_connection(("127.0.0.1", waf.port), timeout=1):
                break
        except OSError:
            time.sleep(0.05)
    else:
        waf.stop()
        raise RuntimeError("apache2 did not listen within 30 s")
    return waf


class WafFactory(Protocol):
    def __call__(
        self,
        log_type: str = ...,
        log_format: str = ...,
        paranoia: int = ...,
        engine: str = ...,
        blocklist: bool = ...,
    ) -> Waf: ...


@pytest.fixture(scope="session")
def waf_factory() -> Iterator[WafFactory]:
    """Start WAF instances on demand; every one started is stopped (by PID, waited) at session end."""
    started: list[Waf] = []

    def start(
        log_type: str = "Serial",
        log_format: str = "Native",
        paranoia: int = 4,
        engine: str = "DetectionOnly",
        blocklist: bool = False,
    ) -> Waf:
        waf = start_waf(log_type, log_format, paranoia, engine, blocklist)
        started.append(waf)
        return waf

    yield start
    for waf in started:
        waf.stop()
        shutil.rmtree(waf.root, ignore_errors=True)


@pytest.fixture(scope="session")
def waf_serial(waf_factory: WafFactory) -> Waf:
    """Native Serial audit log."""
    return waf_factory("Serial", "Native")


@pytest.fixture(scope="session")
def waf_json(waf_factory: WafFactory) -> Waf:
    """ModSecurity 2.9 JSON audit log (`SecAuditLogFormat JSON`), serial file."""
    return waf_factory("Serial", "JSON")
