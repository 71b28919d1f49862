"""The range's web host: Apache with ModSecurity 2 and the OWASP CRS (Debian packages) in front of the
vulnerable test application in `app/`, with its own configuration, PID file and logs under the range.

The WAF's audit log is ModSecurity's native Serial format, which egovops' `modsecurity` source reads.
"""

from __future__ import annotations

import shutil
import sqlite3
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

CONF = """\
ServerRoot "{root}"
ServerName range-web
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}/run"
ErrorLog "{logs}/error.log"
LogLevel notice
Listen {port}
User #{uid}
Group #{uid}

LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule cgi_module {modules}/mod_cgi.so
LoadModule unique_id_module {modules}/mod_unique_id.so
LoadModule security2_module {modules}/mod_security2.so

StartServers 2
MinSpareServers 2
MaxSpareServers 6
MaxRequestWorkers 16
Timeout 10
KeepAlive Off
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

Include {recommended}
SecRuleEngine {engine}
SecRequestBodyAccess On
SecDataDir "{root}/modsec-data"
SecTmpDir "{root}/modsec-tmp"
SecUploadDir "{root}/modsec-tmp"
SecAuditEngine RelevantOnly
SecAuditLogParts ABCEFHIJKZ
SecAuditLogType Serial
SecAuditLogFormat Native
SecAuditLog "{logs}/audit.log"
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={paranoia}"
Include {crs_setup}
Include {crs_rules}/*.conf
"""


def require_waf() -> None:
    if not (MODULES / "mod_security2.so").exists() or not CRS_RULES.is_dir():
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
    conf.write_text(CONF.format(
        root=root, logs=logs, port=port, uid=uid, modules=MODULES, recommended=MODSEC_RECOMMENDED,
        engine=web.modsecurity, paranoia=web.paranoia, crs_setup=CRS_SETUP, crs_rules=CRS_RULES,
    ))  # fmt: skip
    return [str(web.apache), "-d", str(root), "-f", str(conf), "-DFOREGROUND"]


def error_log(logs: Path) -> Path:
    return logs / "error.log"


def ready(logs: Path) -> bool:
    log = error_log(logs)
    return log.exists() and "resuming normal operations" in log.read_text(errors="replace")
