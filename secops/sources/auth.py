"""Auth logs (`/var/log/auth.log`, `/var/log/secure`, `journalctl -o short-iso`): sshd, PAM, sudo, su,
account management and systemd-logind, as ECS the way Filebeat's system/auth module writes them.

The header is read by `secops.sources.syslog`; the message is matched by regular expressions picked by
program, then by the message's first word, so a line costs one or two regex matches. Unknown programs
and messages are still events (`event.kind: event` and the syslog fields); only lines without a readable
header are rejected.

`event.action` (Filebeat's `ssh_login` where it has a name; the rest are ours), with its outcome:

- `ssh_login` -- sshd `Accepted`/`Failed <method> for [invalid user] U from IP port P`, `Invalid user U
  from IP`, `User U from IP not allowed because ...`; `system.auth.ssh.event` says which
  (Accepted/Failed/Invalid/Denied). Success or failure.
- `ssh_max_auth_exceeded` -- `maximum authentication attempts exceeded for U from IP port P`. Failure.
- `ssh_disconnect` -- `Connection closed/reset by`, `Disconnected from`, `Received disconnect from`,
  `Disconnecting`. Failure when before authentication (`[preauth]`, invalid/authenticating user); after
  it a session end without outcome.
- `ssh_handshake_failed` -- `Did not receive identification string`, `banner exchange`, `Bad protocol
  version identification`, `kex_exchange_identification`, `Protocol major versions differ`, `Magic value
  check failed`. Failure.
- `ssh_negotiation_failed` -- `Unable to negotiate with IP port P: no matching X found. Their offer: ..`
  (`system.auth.ssh.negotiation.missing/offer`). Failure.
- `ssh_auth_timeout` -- `Timeout before authentication for IP`. Failure.
- `ssh_protocol_error` -- `ssh_dispatch_run_fatal: Connection from IP port P: ...`. Failure.
- `ssh_connection_refused` -- `refused connect from host (IP)` (TCP wrappers). Failure.
- `authentication_failure` -- `pam_*(svc:auth): authentication failure; ... rhost= user=`, `check pass;
  user unknown`, sshd `PAM N more authentication failures`, `PAM: Authentication failure for U from IP`.
  Failure.
- `user_locked` -- `pam_tally2: user U (uid) tally N, deny M`, `pam_faillock: ... account temporarily
  locked`. Failure.
- `session_opened` / `session_closed` -- `pam_*(svc:session): session opened/closed for user U [by V]`.
- `password_changed` -- `pam_*(svc:chauthtok): password changed for U`, passwd `password for 'U' changed
  by 'V'`.
- `sudo` -- `U : [error ;] TTY=.. ; PWD=.. ; USER=.. ; COMMAND=..` (`system.auth.sudo.*`). Success, or
  failure with `system.auth.sudo.error`.
- `su` -- `(to T) U on TTY`, `FAILED SU (to T) U on TTY`, `Successful/FAILED su for T by U`.
- `user_added`, `group_added`, `user_deleted`, `group_deleted`, `user_changed`, `group_member_added`,
  `group_member_removed` -- useradd, groupadd, userdel, groupdel, usermod, groupmod, gpasswd, passwd,
  chpasswd. Every line of these tools is `iam`, failed when it says "fail" (Filebeat's rule).
- `session_started` / `session_ended` -- systemd-logind `New session N of user U.`, `Removed session N.`

Every failure before authentication from a remote peer (disconnects, handshakes, negotiation, timeouts)
carries `event.category: authentication` with `network`, the way CrowdSec counts them as failed
authentications for brute-force detection. `user.name` is the account the line is about; for sudo, su and
PAM sessions opened by another user it is the acting user and `user.effective.name` the target (Filebeat).
IPv4-mapped IPv6 peers (`::ffff:1.2.3.4`) are written as IPv4 in `source.ip` (the raw text stays in
`source.address`), so one attacker is one address. rsyslog's `message repeated N times: [ ... ]` is
parsed as its inner message with `system.auth.repeated: N`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from secops.events import Doc, Frame, decode, put
from secops.sources.base import Source, SourceOptions
from secops.sources.syslog import SyslogReader, looks_like_syslog

__all__ = ["AuthLog"]

Hook = Callable[[re.Match[str], Doc], None]


@dataclass(frozen=True, slots=True)
class Rule:
    """One message shape: the ECS classification it gets and where its named groups go (`_FIELDS`)."""

    first: tuple[str, ...]
    """First words of the messages it can match: the dispatch key ("" for any)."""
    pattern: re.Pattern[str]
    action: str
    category: tuple[str, ...]
    type: tuple[str, ...] = ("info",)
    outcome: str | None = None
    fields: tuple[tuple[str, object], ...] = ()
    hook: Hook | None = None
    groups: tuple[str, ...] = ()
    """Named groups of `pattern` that fill fields: `addr`, `port` and the keys of `_FIELDS`."""


Family = dict[str, list[Rule]]

_FIELDS = {
    "user": "user.name",
    "uid": "user.id",
    "target": "user.effective.name",
    "port": "source.port",
    "event": "system.auth.ssh.event",
    "method": "system.auth.ssh.method",
    "signature": "system.auth.ssh.signature",
    "reason": "system.auth.ssh.reason",
    "group": "group.name",
    "tty": "system.auth.su.tty",
    "session": "system.auth.logind.session_id",
}
"""Named regex groups and the ECS field each one fills (`addr` is the peer, see `_peer`)."""

_ADDR = r"(?P<addr>\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*[0-9A-Fa-f]|[\w-]+(?:\.[\w-]+)+)"
"""An IP address or a dotted host name (sshd with UseDNS); never a bare word such as `peer`."""
_PORT = r" port (?P<port>\d{1,5})"
_PREAUTH = ("authentication", "network")
_KV = re.compile(r"(\w+)=(\S*)")
_HOSTNAME = re.compile(r"[\w.-]+")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""Dotted-quad IPv4 in canonical form: taken as is, without the cost of `ipaddress`."""
_LEVEL = re.compile(r"(error|fatal|warning): ")
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?)\]\s*$")
_PAM = re.compile(r"pam_(?P<module>\w+)\((?P<service>[^:()]+):(?P<kind>\w+)\): (?P<text>.*)", re.DOTALL)


def _rule(
    first: str | Iterable[str],
    pattern: str,
    action: str,
    category: tuple[str, ...],
    kind: tuple[str, ...] = ("info",),
    *,
    outcome: str | None = None,
    fields: tuple[tuple[str, object], ...] = (),
    hook: Hook | None = None,
) -> Rule:
    words = (first,) if isinstance(first, str) else tuple(first)
    compiled = re.compile(pattern, re.DOTALL)
    groups = tuple(name for name in compiled.groupindex if name in _FIELDS or name == "addr")
    return Rule(words, compiled, action, category, kind, outcome, fields, hook, groups)


def _family(*rules: Rule) -> Family:
    family: Family = {}
    for rule in rules:
        for word in rule.first:
            family.setdefault(word, []).append(rule)
    return family


# --- hooks: what a group-to-field table cannot say ------------------------------------------------------


def _peer(doc: Doc, address: str) -> None:
    """`source.address` as written; `source.ip` when it is an address (IPv4-mapped unwrapped), else domain."""
    source = doc.setdefault("source", {})
    source["address"] = address
    ip, domain = (address, None) if _IPV4.fullmatch(address) else _classify(address)
    if ip is not None:
        source["ip"] = ip
    elif domain is not None:
        source["domain"] = domain


@lru_cache(maxsize=65536)
def _classify(address: str) -> tuple[str | None, str | None]:
    """(ip, domain) for a peer as sshd or PAM wrote it; cached, as attackers repeat themselves."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None, address if _HOSTNAME.fullmatch(address) else None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped), None
    return str(ip), None


def _disconnect(match: re.Match[str], doc: Doc) -> None:
    """A connection that ends before authentication is a failed attempt; after it, a session end."""
    if match["preauth"] or match["state"]:
        event = doc["event"]
        event["category"] = list(_PREAUTH)
        event["outcome"] = "failure"


def _dropped(match: re.Match[str], doc: Doc) -> None:
    put(doc, "system.auth.ssh.dropped_ip", match["addr"])  # Filebeat's name for the silent peer


def _negotiation(match: re.Match[str], doc: Doc) -> None:
    put(doc, "system.auth.ssh.negotiation.missing", match["missing"])
    put(doc, "system.auth.ssh.negotiation.offer", match["offer"].split(","))


def _pam_fields(match: re.Match[str], doc: Doc) -> None:
    """The `key=value` tail of PAM failure lines: `user` and `rhost` are ECS, the rest `system.auth.pam`."""
    for key, value in _KV.findall(match["kv"]):
        if not value:
            continue
        if key == "user":
            put(doc, "user.name", value)
        else:
            if key == "rhost":
                _peer(doc, value)
            put(doc, f"system.auth.pam.{key}", value)


def _more_failures(match: re.Match[str], doc: Doc) -> None:
    put(doc, "system.auth.pam.more_failures", int(match["count"]))
    _pam_fields(match, doc)


def _pam_session(match: re.Match[str], doc: Doc) -> None:
    """`for user A(uid=1) by B(uid=2)`: B acted (user.name), A is who they became (user.effective)."""
    account, account_uid, actor, actor_uid = match.group("account", "account_uid", "actor", "actor_uid")
    if actor:
        put(doc, "user.name", actor)
        if actor_uid:
            put(doc, "user.id", actor_uid)
        put(doc, "user.effective.name", account)
        if account_uid:
            put(doc, "user.effective.id", account_uid)
    else:
        put(doc, "user.name", account)
        if account_uid:
            put(doc, "user.id", account_uid)


def _tally(match: re.Match[str], doc: Doc) -> None:
    put(doc, "system.auth.pam.tally", int(match["tally"]))
    put(doc, "system.auth.pam.deny", int(match["deny"]))


def _sudo(match: re.Match[str], doc: Doc) -> None:
    """`user : [error ;] TTY=.. ; PWD=.. ; USER=.. ; COMMAND=..` -- the command may itself hold ` ; `."""
    head, _, command = match["rest"].partition("COMMAND=")
    errors = []
    for part in head.split(";"):
        key, equals, value = part.strip().partition("=")
        if equals and key.isupper():
            put(doc, f"system.auth.sudo.{key.lower()}", value)
        elif key:
            errors.append(key)
    if command:
        put(doc, "system.auth.sudo.command", command.rstrip())
    runas = doc.get("system", {}).get("auth", {}).get("sudo", {}).get("user")
    if runas:
        put(doc, "user.effective.name", runas)
    if errors:
        error = "; ".join(errors)
        put(doc, "system.auth.sudo.error", error)
        event = doc["event"]
        event["outcome"] = "failure"
        event["category"] = ["authentication"] if "password" in error else ["process"]
        event["type"] = ["info"]


def _account_record(names: dict[str, str]) -> Hook:
    """`new user: name=bob, UID=1001, ...` style lines; `names` maps each key to its ECS field."""

    def hook(match: re.Match[str], doc: Doc) -> None:
        for key, value in re.findall(r"(\w+)=([^,]*)", match["kv"]):
            target = names.get(key)
            if target and value:
                put(doc, target, value.strip())

    return hook


# --- the message families ---------------------------------------------------------------------------

_LOGIN_TAIL = (
    r" (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) from " + _ADDR + _PORT
    + r"(?: ssh\d?)?(?:: (?P<signature>.*?))?\s*$"
)
_SSHD = _family(
    _rule("Accepted", r"(?P<event>Accepted)" + _LOGIN_TAIL, "ssh_login", ("authentication", "session"),
          outcome="success"),
    _rule("Failed", r"(?P<event>Failed)" + _LOGIN_TAIL, "ssh_login", ("authentication",), outcome="failure"),
    _rule("Invalid", r"(?P<event>Invalid) user (?P<user>.*?) from " + _ADDR + f"(?:{_PORT})?\\s*$",
          "ssh_login", ("authentication",), outcome="failure"),
    _rule("User", r"User (?P<user>.*?) from " + _ADDR + r" not allowed because (?P<reason>.+?)\s*$",
          "ssh_login", ("authentication",), outcome="failure", fields=(("system.auth.ssh.event", "Denied"),)),
    _rule("maximum", r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) from "
          + _ADDR + _PORT + r"(?: ssh\d?)?(?: \[preauth\])?\s*$",
          "ssh_max_auth_exceeded", ("authentication",), outcome="failure"),
    _rule(("Connection", "Disconnected", "Received", "Disconnecting"),
          r"(?:Connection (?:closed|reset) by|Disconnected from|Received disconnect from|Disconnecting)"
          r"(?: (?:(?P<state>invalid|authenticating) )?user (?P<user>.*?))? " + _ADDR + f"(?:{_PORT})?"
          r"(?::(?P<code>\d+))?(?::? (?P<reason>.*?))??(?P<preauth> \[preauth\])?\s*$",
          "ssh_disconnect", ("session", "network"), ("connection", "end"), hook=_disconnect),
    _rule("Did", r"Did not receive identification string from " + _ADDR + f"(?:{_PORT})?",
          "ssh_handshake_failed", _PREAUTH, ("connection", "end"), outcome="failure", hook=_dropped),
    _rule("banner", r"banner exchange: Connection from " + _ADDR + _PORT + r": (?P<reason>.+?)\s*$",
          "ssh_handshake_failed", _PREAUTH, ("connection", "end"), outcome="failure"),
    _rule("Bad", r"Bad protocol version identification .* from " + _ADDR + f"(?:{_PORT})?",
          "ssh_handshake_failed", _PREAUTH, ("connection", "end"), outcome="failure"),
    _rule("Protocol", r"Protocol major versions differ for " + _ADDR + f"(?:{_PORT})?: (?P<reason>.+?)\\s*$",
          "ssh_handshake_failed", _PREAUTH, ("connection", "end"), outcome="failure"),
    _rule("Magic", r"Magic value check failed \(\d+\) on obfuscated handshake from " + _ADDR + _PORT,
          "ssh_handshake_failed", _PREAUTH, ("connection", "end"), outcome="failure"),
    _rule("kex_exchange_identification:", r"kex_exchange_identification: (?P<reason>.+?)\s*$",
          "ssh_handshake_failed", _PREAUTH, ("connection", "end"), outcome="failure"),
    _rule("Unable", r"Unable to negotiate with " + _ADDR + _PORT
          + r": no matching (?P<missing>.+?) found\.? Their offer: (?P<offer>[^\s\[]+)",
          "ssh_negotiation_failed", _PREAUTH, ("connection", "denied"), outcome="failure", hook=_negotiation),
    _rule("Timeout", r"Timeout before authentication for (?:connection from )?" + _ADDR + f"(?:{_PORT})?",
          "ssh_auth_timeout", _PREAUTH, ("connection", "end"), outcome="failure"),
    _rule("ssh_dispatch_run_fatal:", r"ssh_dispatch_run_fatal: Connection from "
          r"(?:(?:invalid|authenticating) user (?P<user>.*?) )?" + _ADDR + _PORT
          + r": (?P<reason>.*?)(?: \[preauth\])?\s*$",
          "ssh_protocol_error", _PREAUTH, ("connection", "end"), outcome="failure"),
    _rule("refused", r"refused connect from \S+ \(" + _ADDR + r"\)",
          "ssh_connection_refused", _PREAUTH, ("connection", "denied"), outcome="failure"),
    _rule("PAM", r"PAM (?P<count>\d+) more authentication failures?; (?P<kv>.*)",
          "authentication_failure", ("authentication",), outcome="failure", hook=_more_failures),
    _rule("PAM:", r"PAM: Authentication failure for (?:(?:illegal|invalid) user )?(?P<user>.*?) from "
          + _ADDR,
          "authentication_failure", ("authentication",), outcome="failure"),
)

_PAM_ACCOUNT = (
    r"(?P<account>[^\s(]+)(?:\(uid=(?P<account_uid>\d+)\))?"
    r"(?: by (?P<actor>[^\s(]*)(?:\(uid=(?P<actor_uid>\d+)\))?)?"
)
_PAM_RULES = _family(
    _rule("authentication", r"authentication failure; (?P<kv>.*)", "authentication_failure",
          ("authentication",), outcome="failure", hook=_pam_fields),
    _rule("check", r"check pass; user unknown", "authentication_failure", ("authentication",),
          outcome="failure"),
    *(
        _rule("session", rf"session {state} for user {_PAM_ACCOUNT}", f"session_{state}", ("session",),
              (kind,), outcome="success", hook=_pam_session)
        for state, kind in (("opened", "start"), ("closed", "end"))
    ),
    _rule("password", r"password changed for (?P<user>\S+)", "password_changed", ("iam",), ("user", "change"),
          outcome="success"),
    _rule("user", r"user (?P<user>\S+) \((?P<uid>\d+)\) tally (?P<tally>\d+), deny (?P<deny>\d+)",
          "user_locked", ("authentication",), outcome="failure", hook=_tally),
    _rule("Consecutive", r"Consecutive login failures for user (?P<user>\S+) account temporarily locked",
          "user_locked", ("authentication",), outcome="failure"),
)

_SUDO = _family(
    _rule("", r"(?P<user>\S+) : (?P<rest>.*\b(?:TTY|PWD|USER|COMMAND)=.*)", "sudo", ("process",), ("start",),
          outcome="success", hook=_sudo),
)

_SU = _family(
    _rule("(to", r"\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)", "su", ("authentication", "session"),
          outcome="success"),
    _rule("Successful", r"Successful su for (?P<target>\S+) by (?P<user>\S+)", "su",
          ("authentication", "session"), outcome="success"),
    _rule("FAILED", r"FAILED SU \(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)", "su",
          ("authentication",), outcome="failure"),
    _rule("FAILED", r"FAILED su for (?P<target>\S+) by (?P<user>\S+)", "su", ("authentication",),
          outcome="failure"),
)

_NEW_USER = {"name": "user.name", "UID": "user.id", "GID": "group.id", "home": "system.auth.useradd.home",
             "shell": "system.auth.useradd.shell", "from": "system.auth.useradd.from"}
_NEW_GROUP = {"name": "group.name", "GID": "group.id"}
_ACCOUNTS = _family(
    _rule("new", r"new user: (?P<kv>.*)", "user_added", ("iam",), ("user", "creation"),
          hook=_account_record(_NEW_USER)),
    _rule("new", r"new group: (?P<kv>.*)", "group_added", ("iam",), ("group", "creation"),
          hook=_account_record(_NEW_GROUP)),
    _rule("group", r"group added to \S+: (?P<kv>.*)", "group_added", ("iam",), ("group", "creation"),
          hook=_account_record(_NEW_GROUP)),
    _rule("group", r"group '(?P<group>[^']*)' removed", "group_deleted", ("iam",), ("group", "deletion")),
    _rule("removed", r"removed (?:shadow )?group '(?P<group>[^']*)'", "group_deleted", ("iam",),
          ("group", "deletion")),
    _rule("add", r"add '(?P<user>[^']*)' to (?:shadow )?group '(?P<group>[^']*)'", "group_member_added",
          ("iam",), ("group", "change")),
    _rule("delete", r"delete '(?P<user>[^']*)' from (?:shadow )?group '(?P<group>[^']*)'",
          "group_member_removed", ("iam",), ("group", "change")),
    _rule("delete", r"delete user '(?P<user>[^']*)'", "user_deleted", ("iam",), ("user", "deletion")),
    _rule(("change", "lock", "unlock"), r"(?:change|lock|unlock) user '(?P<user>[^']*)'", "user_changed",
          ("iam",), ("user", "change")),
    _rule("password", r"password for '(?P<user>[^']*)' changed by '(?P<by>[^']*)'", "password_changed",
          ("iam",), ("user", "change")),
    _rule("failed", r"failed adding user '(?P<user>[^']*)'", "user_added", ("iam",), ("user", "creation")),
)
_ACCOUNT_PROGRAMS = {
    "useradd": ("user", "creation"), "groupadd": ("group", "creation"), "userdel": ("user", "deletion"),
    "groupdel": ("group", "deletion"), "usermod": ("user", "change"), "groupmod": ("group", "change"),
    "passwd": ("user", "change"), "chpasswd": ("user", "change"), "chage": ("user", "change"),
    "gpasswd": ("group", "change"), "newusers": ("user", "creation"),
}  # fmt: skip
"""Account tools and the `event.type` every line of theirs gets (Filebeat marks them all `iam`)."""

_LOGIND = _family(
    _rule("New", r"New session (?P<session>\S+) of user (?P<user>\S+?)\.?\s*$", "session_started",
          ("session",), ("start",), outcome="success"),
    _rule("Removed", r"Removed session (?P<session>\S+?)\.?\s*$", "session_ended", ("session",), ("end",),
          outcome="success"),
)

_FAMILIES: dict[str, Family] = {
    "sshd": _SSHD,
    "sshd-session": _SSHD,
    "sshd-auth": _SSHD,
    "sudo": _SUDO,
    "su": _SU,
    "systemd-logind": _LOGIND,
    **dict.fromkeys(_ACCOUNT_PROGRAMS, _ACCOUNTS),
}


def _apply(family: Family, text: str, doc: Doc) -> None:
    """Classify `text` with the first rule of `family` that matches it (none: the event stays plain)."""
    first = text.partition(" ")[0]
    for rule in (*family.get(first, ()), *family.get("", ())):
        match = rule.pattern.match(text)
        if match is None:
            continue
        event = doc["event"]
        event["action"] = rule.action
        event["category"] = list(rule.category)
        event["type"] = list(rule.type)
        if rule.outcome:
            event["outcome"] = rule.outcome
        for name in rule.groups:
            value = match[name]
            if not value:
                continue
            if name == "addr":
                _peer(doc, value)
            elif name == "port":
                put(doc, "source.port", int(value))
            elif (path := _FIELDS.get(name)) is not None:
                put(doc, path, value)
        for path, constant in rule.fields:
            put(doc, path, constant)
        if rule.hook is not None:
            rule.hook(match, doc)
        return


class AuthLog(Source):
    """sshd / PAM / sudo / su / account / logind lines behind any of the syslog headers."""

    format: ClassVar[str] = "auth"
    dataset: ClassVar[str] = "system.auth"
    description: ClassVar[str] = "sshd and auth logs (syslog RFC 3164/5424, rsyslog ISO, journalctl)"

    def __init__(self, options: SourceOptions | None = None) -> None:
        super().__init__(options)
        self.reader = SyslogReader(self.options.timezone, self.options.year)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first record line (journalctl banners skipped) has a syslog header and a program tag."""
        for line in decode(head).splitlines():
            if line.strip() and not line.startswith("-- "):
                return looks_like_syslog(line)
        return False

    def parse(self, frame: Frame) -> list[Doc]:
        header = self.reader.read(decode(frame.raw).rstrip("\r\n"))
        doc: Doc = {"event": {"kind": "event"}}
        header.to_ecs(doc)
        text = header.message
        if text.startswith("message repeated ") and (repeated := _REPEATED.match(text)):
            put(doc, "system.auth.repeated", int(repeated[1]))
            text = repeated[2]
        if (level := _LEVEL.match(text)) is not None:
            put(doc, "log.level", level[1])
            text = text[level.end() :]
        program = (header.program or "").rpartition("/")[2]
        account_type = _ACCOUNT_PROGRAMS.get(program)
        if account_type is not None:
            self._account_defaults(doc, account_type, text)
        if text.startswith("pam_") and (pam := _PAM.match(text)) is not None:
            module, service, kind = pam.group("module", "service", "kind")
            put(doc, "system.auth.pam", {"module": module, "service": service, "type": kind})
            _apply(_PAM_RULES, pam["text"], doc)
        elif (family := _FAMILIES.get(program)) is not None:
            _apply(family, text, doc)
        _related(doc)
        return [doc]

    @staticmethod
    def _account_defaults(doc: Doc, account_type: tuple[str, str], text: str) -> None:
        """Filebeat's rule for account tools: `iam`, typed by tool, failed when the line says so."""
        event = doc["event"]
        event["category"] = ["iam"]
        event["type"] = list(account_type)
        event["outcome"] = "failure" if "fail" in text else "success"


def _related(doc: Doc) -> None:
    """`related.user` / `related.ip` so one search finds every line that names a person or a peer."""
    related: Doc = {}
    user = doc.get("user")
    if user:
        names = [name for name in (user.get("name"), user.get("effective", {}).get("name")) if name]
        if names:
            related["user"] = names if len(names) == 1 or names[0] != names[1] else names[:1]
    source = doc.get("source")
    if source and "ip" in source:
        related["ip"] = [source["ip"]]
    if related:
        doc["related"] = related
