"""The range's web host: Apache with ModSecurity 2 and the OWASP CRS (Debian packages) in front of the
vulnerable test application in `app/`, with its own configuration, PID file and logs under the range.

The WAF's audit log is ModSecurity's native Serial format, which egovops' `modsecurity` source reads.
`Httpd` builds the httpd.conf; the WAF test fixture (tests/components/waf.py) builds its own with it.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from secops.drills.range import accounts
from secops.drills.range.description import Web
from secops.drills.range.procs import RangeError

APP = Path(__file__).with_name("app")
PAGES = ("index", "search", "upload", "ping")
MODULES = Path("/usr/lib/apache2/modules")
CRS_RULES = Path("/usr/share/modsecurity-crs/rules")
CRS_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")
MODSEC_RECOMMENDED = Path("/etc/modsecurity/modsecurity.conf-recommended")
USER = "range-www"
INSTALL = "apt-get install -y apache2 libapache2-mod-security2 modsecurity-crs"
STAFF = [
    ("Li Wei", "li.wei@range.invalid", "s3cret-li"),
    ("Chen Jing", "chen.jing@range.invalid", "s3cret-chen"),
    ("Wang Fang", "wang.fang@range.invalid", "s3cret-wang"),
]
"""Made-up rows: the search page's SQL injection can reach the `secret` column."""

MODULES_LOADED = ("mpm_prefork", "authz_core", "alias", "cgi", "unique_id", "security2")

HTTPD = """\
ServerRoot "{root}"
ServerName {server_name}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}/run"
ErrorLog "{logs}/error.log"
LogLevel {log_level}
Listen {listen}
User {user}
Group {user}

{modules}

StartServers {start_servers}
MinSpareServers 2
MaxSpareServers {max_spare}
MaxRequestWorkers 16
Timeout {timeout}
KeepAlive Off
{site}
Include {recommended}
SecRuleEngine {engine}
SecDataDir "{root}/modsec-data"
SecTmpDir "{root}/modsec-tmp"
SecAuditEngine RelevantOnly
SecAuditLogParts ABCEFHIJKZ
SecAuditLogType {audit_type}
SecAuditLogFormat {audit_format}
SecAuditLog "{logs}/audit.log"
{modsecurity}SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={paranoia}"
SecAction "id:900001,phase:1,nolog,pass,t:none,setvar:tx.executing_paranoia_level={paranoia}"
Include {crs_setup}
Include {crs_rules}/*.conf
"""

SITE = """\
TypesConfig /dev/null
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "{logs}/access.log" common

DocumentRoot "{root}/cgi"
ScriptAliasMatch "^/$" "{root}/cgi/index.py"
ScriptAliasMatch "^/(search|upload|ping)$" "{root}/cgi/$1.py"
Alias "/uploads/" "{root}/uploads/"
<Directory "{root}/cgi">
    Options +ExecCGI
    Require all granted
</Directory>
<Directory "{root}/uploads">
    Options +ExecCGI
    AddHandler cgi-script .cgi .sh .py .pl
    Require all granted
</Directory>
"""
"""The vulnerable app: its pages as CGI scripts, and an upload directory that runs what is put there."""


@dataclass(frozen=True)
class Httpd:
    """One Apache + ModSecurity 2 + OWASP CRS instance: its own tree under `root` (PID file, runtime
    and ModSecurity directories), error and audit logs under `logs`, prefork children running as `user`
    (a name, or `#UID`). `site` is the virtual host's directives; `modsecurity` holds settings and
    rules that go before the CRS; `modules` are loaded besides the ones every instance needs."""

    root: Path
    logs: Path
    listen: str
    user: str
    engine: str
    paranoia: int
    site: str
    server_name: str = "localhost"
    log_level: str = "warn"
    start_servers: int = 2
    max_spare: int = 6
    timeout: int = 10
    audit_type: str = "Serial"
    audit_format: str = "Native"
    modsecurity: str = ""
    modules: tuple[str, ...] = ()

    def render(self) -> str:
        """The whole httpd.conf."""
        names = (*MODULES_LOADED, *self.modules)
        loaded = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in names)
        return HTTPD.format(**(asdict(self) | {"modules": loaded}), recommended=MODSEC_RECOMMENDED,
                            crs_setup=CRS_SETUP, crs_rules=CRS_RULES)  # fmt: skip


def waf_installed() -> bool:
    """ModSecurity 2's Apache module and the OWASP CRS rules are where the Debian packages put them."""
    return (MODULES / "mod_security2.so").exists() and CRS_RULES.is_dir()


def require_waf() -> None:
    if not waf_installed():
        raise RangeError(f"ModSecurity 2 with the OWASP CRS is not installed ({INSTALL})")


def service_account(netns: str, uid: int, home: Path) -> None:
    """The account Apache's children (and so the app, and any webshell) run as, inside `netns` only."""
    accounts.write(netns, [f"{USER}:x:{uid}:{uid}:range web service:{home}:/usr/sbin/nologin"],
                   [f"{USER}:x:{uid}:"], [f"{USER}:*:19000:0:99999:7:::"])  # fmt: skip


def install(web: Web, root: Path, logs: Path, port: int, uid: int) -> list[str]:
    """Lay out the app, its database and Apache's configuration under `root`; Apache's command line.
    Apache's children run as `uid`."""
    require_waf()
    for sub in ("run", "cgi", "uploads", "data", "modsec-data", "modsec-tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    for sub in ("uploads", "modsec-data", "modsec-tmp"):
        shutil.chown(root / sub, uid, uid)
    for page in PAGES:
        target = root / "cgi" / f"{page}.py"
        shutil.copyfile(APP / f"{page}.py", target)
        target.chmod(0o755)
    with sqlite3.connect(root / "data" / "app.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, name TEXT, email TEXT, secret TEXT)")
        db.executemany("INSERT INTO staff (name, email, secret) VALUES (?, ?, ?)", STAFF)
    db.close()
    (root / "data" / "app.db").chmod(0o644)
    conf = root / "httpd.conf"
    conf.write_text(Httpd(
        root=root, logs=logs, listen=str(port), user=f"#{uid}", engine=web.modsecurity, paranoia=web.paranoia,
        site=SITE.format(root=root, logs=logs), server_name="range-web", log_level="notice",
        modsecurity=f'SecUploadDir "{root}/modsec-tmp"\n', modules=("mime",),
    ).render())  # fmt: skip
    return [str(web.apache), "-d", str(root), "-f", str(conf), "-DFOREGROUND"]


def error_log(logs: Path) -> Path:
    return logs / "error.log"


def ready(logs: Path) -> bool:
    log = error_log(logs)
    return log.exists() and "resuming normal operations" in log.read_text(errors="replace")
