"""Where each Sigma log source comes from in egovops, and how its field names map onto our ECS events.

A Sigma rule names a log source (`product: linux, service: auditd`, `category: webserver`, ...) and uses
that source's own field names (`a0`, `cs-uri-query`, `query`). egovops stores ECS documents from five
sources, so every supported log source is described here once, as data: the datasets (and narrowing
field values) that carry it, the Sigma-to-ECS field names, and the fields a keyword search runs over.
`pipeline()` turns that table into one pySigma `ProcessingPipeline`; the matcher compiler, the SQLite
peer in the benchmark and a hunt on another backend all apply the same pipeline, so they see the same
rule. A rule whose log source or fields have no mapping fails with a reason that names them.

The pipeline also adds the data-source condition to every rule (`event.dataset` and the narrowing
fields), so a converted query stands on its own over a store that holds every dataset, and the matcher
reads its dispatch keys from the rule itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sigma.conditions import ConditionAND, ConditionOR, SigmaCondition
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaTransformationError
from sigma.processing.conditions import RuleProcessingCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    PreprocessingTransformation,
    ValueListPlaceholderTransformation,
)
from sigma.processing.transformations.base import ConditionTransformation, DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaLogSource, SigmaRule
from sigma.types import SigmaExists, SigmaString, SigmaType

ANY = "*"
"""In a `Logsource` key: any value, present or not."""

SOURCE_DETECTION = "_egovops_source"
"""Name of the detection the pipeline adds: the datasets (and narrowing values) a rule runs on."""

DEFAULT_VARS: dict[str, list[str]] = {
    "webroots": [
        "/var/www/*",
        "/srv/www/*",
        "/srv/http/*",
        "/usr/share/nginx/html/*",
        "/home/*/public_html/*",
    ],
}
"""Values for `|expand` placeholders (`%webroots%`); `RuleSet.load(vars=...)` adds or overrides them."""


@dataclass(frozen=True, slots=True)
class Feed:
    """One stream of egovops events carrying a log source: a dataset, narrowed by field values."""

    dataset: str
    where: Mapping[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Logsource:
    """A Sigma log source egovops can serve, and how its rules are mapped.

    `category`, `product`, `service`: the rule's log source must have exactly these (None: absent,
    `ANY`: anything). `fields` maps Sigma field names to ECS; None means the rules already use ECS names
    (our own log sources). `keywords` are the fields a keyword (unbound value) search reads.
    """

    name: str
    feeds: tuple[Feed, ...]
    fields: Mapping[str, str | list[str]] | None
    keywords: tuple[str, ...]
    category: str | None = None
    product: str | None = None
    service: str | None = None

    def accepts(self, logsource: SigmaLogSource) -> bool:
        return all(
            want in (ANY, have)
            for want, have in (
                (self.category, logsource.category),
                (self.product, logsource.product),
                (self.service, logsource.service),
            )
        )


# --- the field maps -----------------------------------------------------------------------------------

AUDITD_FIELDS: dict[str, str | list[str]] = {
    "exe": "process.executable",
    "comm": "process.name",
    "proctitle": "process.title",
    "cwd": "process.working_directory",
    "pid": "process.pid",
    "ppid": "process.ppid",
    "key": "tags",
    "SYSCALL": "auditd.data.syscall",
    "syscall": "auditd.data.syscall",
    "arch": "auditd.data.arch",
    "exit": "auditd.data.exit",
    "argc": "auditd.data.argc",
    "tty": "auditd.data.tty",
    "terminal": "auditd.data.terminal",
    "unit": "auditd.data.unit",
    "op": "auditd.data.op",
    "cmd": "auditd.data.cmd",
    "hostname": "auditd.data.hostname",
    "addr": "source.ip",
    "ses": "auditd.session",
    "res": "auditd.result",
    "name": "auditd.paths.name",
    "nametype": ["auditd.paths.nametype", "auditd.paths.objtype"],
    "objtype": ["auditd.paths.nametype", "auditd.paths.objtype"],
    "uid": "user.id",
    "auid": "user.audit.id",
    "suid": "user.saved.id",
    "fsuid": "user.filesystem.id",
    "gid": "group.id",
    "sgid": "user.saved.group.id",
    "fsgid": "user.filesystem.group.id",
}
"""Auditbeat's layout, which the auditd source writes. `type`, `a0`..`aN`, `euid` and `egid` need the
record context and are handled by the transformations below."""

AUDITD_FALLBACKS: dict[str, tuple[str, str]] = {
    "euid": ("user.effective.id", "user.id"),
    "egid": ("user.effective.group.id", "group.id"),
}
"""Auditbeat drops `user.effective` when it equals the real ids, so an effective id is read from the
real one when the effective one is absent."""

AUDITD_RECORD_PRESENCE: dict[str, str] = {
    "execve": "process.args",
    "path": "auditd.paths.item",
    "cwd": "process.working_directory",
    "proctitle": "process.title",
    "sockaddr": "auditd.data.socket.family",
}
"""Records the auditd source folds into the event of their syscall: `type: EXECVE` means the event has
arguments, `type: PATH` that it has path records. Any other record type is the event's own type."""

WEB_FIELDS: dict[str, str | list[str]] = {
    "c-ip": "source.ip",
    "clientip": "source.ip",
    "s-ip": "destination.ip",
    "s-port": "destination.port",
    "cs-method": "http.request.method",
    "cs-uri-query": "url.original",
    "cs-uri-stem": "url.path",
    "cs-uri": "url.original",
    "c-uri": "url.original",
    "c-uri-query": "url.query",
    "c-uri-stem": "url.path",
    "c-uri-extension": "url.extension",
    "cs-host": "url.domain",
    "cs-user-agent": "user_agent.original",
    "c-useragent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-referrer": "http.request.referrer",
    "cs-version": "http.version",
    "cs-username": "user.name",
    "cs-bytes": "http.request.body.bytes",
    "sc-bytes": "http.response.body.bytes",
    "sc-status": "http.response.status_code",
    "cs-content-type": "http.request.mime_type",
    "r-dns": "url.domain",
}
"""W3C / Sigma webserver and proxy names. SigmaHQ writes `cs-uri-query` for the whole request target
(`cs-uri-query|endswith: '/mgmt/tm/util/bash'`), so it maps to `url.original`, path and query."""

DNS_FIELDS: dict[str, str | list[str]] = {
    "query": "dns.question.name",
    "QueryName": "dns.question.name",
    "record_type": ["dns.question.type", "dns.answers.type"],
    "answer": "dns.answers.data",
    "response_code": "dns.response_code",
    "rcode_name": "dns.response_code",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
    "src_port": "source.port",
    "dst_port": "destination.port",
}

SYSLOG_FIELDS: dict[str, str | list[str]] = {
    "host": "host.hostname",
    "process": "process.name",
    "pid": "process.pid",
    "user": "user.name",
    "pam_user": "user.name",
    "pam_rhost": "source.ip",
}

PROCESS_FIELDS: dict[str, str | list[str]] = {
    "Image": "process.executable",
    "CommandLine": "process.title",
    "CurrentDirectory": "process.working_directory",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.ppid",
    "User": "user.name",
    "LogonId": "auditd.session",
}
"""Linux `process_creation` / `file_event` rules read from auditd execve and path records."""

FILE_FIELDS: dict[str, str | list[str]] = {
    "TargetFilename": "auditd.paths.name",
    "Image": "process.executable",
    "User": "user.name",
}

_WEB_FEEDS = (
    Feed("suricata.eve", {"suricata.eve.event_type": "http"}),
    Feed("network.pcap", {"event.action": "http-request"}),
)
_SYSLOG = ("message",)

LOGSOURCES: tuple[Logsource, ...] = (
    Logsource(
        "linux/auditd",
        (Feed("auditd.log"),),
        AUDITD_FIELDS,
        ("process.args", "process.title"),
        product="linux",
        service="auditd",
    ),
    Logsource(
        "linux/process_creation",
        (Feed("auditd.log", {"event.action": "executed"}),),
        PROCESS_FIELDS,
        ("process.args", "process.title"),
        category="process_creation",
        product="linux",
    ),
    Logsource(
        "linux/file_event",
        (Feed("auditd.log", {"auditd.paths.nametype": ["CREATE", "NORMAL"]}),),
        FILE_FIELDS,
        ("auditd.paths.name",),
        category="file_event",
        product="linux",
    ),
    Logsource(
        "webserver",
        (Feed("modsecurity.audit"), *_WEB_FEEDS),
        WEB_FIELDS,
        ("url.original", "user_agent.original", "http.request.referrer"),
        category="webserver",
        product=ANY,
        service=ANY,
    ),
    Logsource(
        "proxy",
        _WEB_FEEDS,
        WEB_FIELDS,
        ("url.original", "user_agent.original", "http.request.referrer"),
        category="proxy",
        product=ANY,
        service=ANY,
    ),
    Logsource(
        "dns",
        (
            Feed("suricata.eve", {"suricata.eve.event_type": "dns"}),
            Feed("network.pcap", {"event.action": ["dns-query", "dns-answer"]}),
        ),
        DNS_FIELDS,
        ("dns.question.name", "dns.answers.data"),
        category="dns",
        product=ANY,
        service=ANY,
    ),
    Logsource("linux", (Feed("system.auth"),), SYSLOG_FIELDS, _SYSLOG, product="linux"),
    Logsource(
        "linux/sshd",
        (Feed("system.auth", {"process.name": ["sshd", "sshd-session"]}),),
        SYSLOG_FIELDS,
        _SYSLOG,
        product="linux",
        service="sshd",
    ),
    Logsource(
        "apache",
        (Feed("system.auth", {"process.name": ["apache2", "httpd"]}),),
        SYSLOG_FIELDS,
        _SYSLOG,
        product=ANY,
        service="apache",
    ),
    Logsource(
        "nginx",
        (Feed("system.auth", {"process.name": "nginx"}),),
        SYSLOG_FIELDS,
        _SYSLOG,
        product=ANY,
        service="nginx",
    ),
    Logsource("suricata", (Feed("suricata.eve"),), None, _SYSLOG, product="suricata", service=ANY),
    Logsource("modsecurity", (Feed("modsecurity.audit"),), None, _SYSLOG, product="modsecurity", service=ANY),
    *(
        Logsource(f"egovops/{dataset}", (Feed(dataset),), None, _SYSLOG, product="egovops", service=dataset)
        for dataset in ("suricata.eve", "modsecurity.audit", "auditd.log", "system.auth", "network.pcap")
    ),
)
"""Apache and nginx error logs arrive through syslog (`ErrorLog syslog:`, `error_log syslog:`), where the
auth source reads every line; their program tag tells them apart."""


def find_logsource(logsource: SigmaLogSource) -> Logsource | None:
    return next((known for known in LOGSOURCES if known.accepts(logsource)), None)


def describe(logsource: SigmaLogSource) -> str:
    parts = [
        f"{key}: {value}"
        for key, value in (
            ("category", logsource.category),
            ("product", logsource.product),
            ("service", logsource.service),
        )
        if value
    ]
    return "{" + ", ".join(parts) + "}" if parts else "{}"


# --- processing conditions and transformations -------------------------------------------------------


@dataclass
class LogsourceIs(RuleProcessingCondition):
    """The rule's log source is served by `logsource` (a correlation: one of the rules it refers to)."""

    logsource: Logsource

    def match(self, rule: SigmaRule | SigmaCorrelationRule) -> bool:
        if isinstance(rule, SigmaRule):
            return find_logsource(rule.logsource) is self.logsource
        return any(
            isinstance(ref.rule, SigmaRule) and find_logsource(ref.rule.logsource) is self.logsource
            for ref in rule.rules or ()
            if hasattr(ref, "rule")
        )


@dataclass
class NoLogsourceFailure(PreprocessingTransformation):
    """Refuse a rule whose log source egovops has no data for, naming that log source."""

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        if isinstance(rule, SigmaRule) and find_logsource(rule.logsource) is None:
            raise SigmaTransformationError(
                f"no egovops data source for logsource {describe(rule.logsource)}", source=rule.source
            )


_ARGUMENT = re.compile(r"a(\d+)")


@dataclass
class AuditdArguments(DetectionItemTransformation):
    """`a0`..`aN`: arguments of an EXECVE record, or the raw registers of a SYSCALL record.

    Which one depends on the `type` named beside it in the same selection: with `type: SYSCALL` they are
    `auditd.data.aN` (hex, as the kernel logs them), otherwise `process.args.N`.
    """

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        return None  # the work needs the sibling items: see apply_detection

    def apply_detection(self, detection: SigmaDetection) -> None:
        record_types = {
            str(value).lower()
            for item in detection.detection_items
            if isinstance(item, SigmaDetectionItem) and item.field == "type"
            for value in item.value
        }
        registers = record_types == {"syscall"}
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                self.apply_detection(item)
            elif item.field is not None and (found := _ARGUMENT.fullmatch(item.field)):
                item.field = f"auditd.data.a{found[1]}" if registers else f"process.args.{found[1]}"
                self.processing_item_applied(item)


@dataclass
class AuditdRecordType(DetectionItemTransformation):
    """`type: EXECVE` and friends: which records an event holds, in the auditd source's coalesced events."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetection | None:
        if detection_item.field != "type":
            return None
        if detection_item.modifiers or detection_item.negated:
            raise SigmaTransformationError(
                "auditd `type` takes plain record type names, without modifiers", source=detection_item.source
            )
        items: list[SigmaDetectionItem | SigmaDetection] = []
        for value in detection_item.value:
            if not isinstance(value, SigmaString) or value.contains_special():
                raise SigmaTransformationError(
                    f"auditd `type` value {value!s} is not a record type name", source=detection_item.source
                )
            record = str(value).lower()
            present = AUDITD_RECORD_PRESENCE.get(record)
            if present is not None:
                items.append(
                    SigmaDetectionItem(present, [], [SigmaExists(True)], source=detection_item.source)
                )
            else:
                items.append(
                    SigmaDetectionItem(
                        "auditd.message_type", [], [SigmaString(record)], source=detection_item.source
                    )
                )
        return SigmaDetection(items, item_linking=detection_item.value_linking)


@dataclass
class FallbackFields(DetectionItemTransformation):
    """A field read from `primary`, or from `fallback` when the event leaves `primary` out."""

    fallbacks: dict[str, tuple[str, str]]

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetection | None:
        if detection_item.field not in self.fallbacks:
            return None
        primary, fallback = self.fallbacks[detection_item.field]
        first = SigmaDetectionItem(
            primary,
            detection_item.modifiers,
            list(detection_item.value),
            detection_item.value_linking,
            auto_modifiers=False,
            source=detection_item.source,
        )
        absent = SigmaDetectionItem(primary, [], [SigmaExists(False)], source=detection_item.source)
        second = SigmaDetectionItem(
            fallback,
            detection_item.modifiers,
            list(detection_item.value),
            detection_item.value_linking,
            auto_modifiers=False,
            source=detection_item.source,
        )
        either = SigmaDetection(
            [first, SigmaDetection([absent, second], item_linking=ConditionAND)], item_linking=ConditionOR
        )
        if detection_item.negated:
            raise SigmaTransformationError(
                f"`{detection_item.field}|neq` is not supported", source=detection_item.source
            )
        return either


@dataclass
class SourceCondition(ConditionTransformation):
    """AND the rule's condition with the datasets (and narrowing values) of its log source."""

    feeds: tuple[Feed, ...]

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        if not isinstance(rule, SigmaRule):
            return
        branches: list[SigmaDetectionItem | SigmaDetection] = []
        for feed in self.feeds:
            items: list[SigmaDetectionItem | SigmaDetection] = [
                SigmaDetectionItem("event.dataset", [], [SigmaString(feed.dataset)])
            ]
            for name, values in feed.where.items():
                listed = values if isinstance(values, list) else [values]
                typed: list[SigmaType] = [SigmaString(value) for value in listed]
                items.append(SigmaDetectionItem(name, [], typed))
            branches.append(SigmaDetection(items, item_linking=ConditionAND))
        rule.detection.detections[SOURCE_DETECTION] = SigmaDetection(branches, item_linking=ConditionOR)
        super().apply(rule)

    def apply_condition(self, cond: SigmaCondition) -> None:
        cond.condition = f"{SOURCE_DETECTION} and ({cond.condition})"


@dataclass
class UnmappedFieldFailure(DetectionItemTransformation):
    """Refuse a rule that uses a field its log source has no mapping for, naming field and log source."""

    logsource: Logsource
    known: frozenset[str]
    indexed: re.Pattern[str] | None = None

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        name = detection_item.field
        if (
            name is not None
            and name not in self.known
            and not (self.indexed and self.indexed.fullmatch(name))
        ):
            raise SigmaTransformationError(
                f"no field mapping for field {name!r} in logsource {self.logsource.name}",
                source=detection_item.source,
            )


def _targets(logsource: Logsource) -> frozenset[str]:
    """Every ECS field a mapped rule of this log source may use once the pipeline has run."""
    names: set[str] = {"event.dataset", *logsource.keywords}
    for feed in logsource.feeds:
        names.update(feed.where)
    for target in (logsource.fields or {}).values():
        names.update([target] if isinstance(target, str) else target)
    if logsource.fields is AUDITD_FIELDS:
        names.update(AUDITD_RECORD_PRESENCE.values())
        names.add("auditd.message_type")
        for primary, fallback in AUDITD_FALLBACKS.values():
            names.update((primary, fallback))
    return frozenset(names)


_AUDITD_INDEXED = re.compile(r"process\.args\.\d+|auditd\.data\.a\d+")
"""What `AuditdArguments` makes of `a0`..`aN`."""


def _items_for(logsource: Logsource) -> list[ProcessingItem]:
    steps: list[PreprocessingTransformation] = []
    if logsource.fields is AUDITD_FIELDS:
        steps += [AuditdArguments(), AuditdRecordType(), FallbackFields(dict(AUDITD_FALLBACKS))]
    mapping: dict[str | None, str | list[str]] = {None: list(logsource.keywords)}
    if logsource.fields is not None:
        mapping.update(logsource.fields)
    steps.append(FieldMappingTransformation(mapping))
    if logsource.fields is not None:
        indexed = _AUDITD_INDEXED if logsource.fields is AUDITD_FIELDS else None
        steps.append(UnmappedFieldFailure(logsource, _targets(logsource), indexed))
    steps.append(SourceCondition(logsource.feeds))
    return [ProcessingItem(step, rule_conditions=[LogsourceIs(logsource)]) for step in steps]


def pipeline(variables: Mapping[str, list[str]] | None = None) -> ProcessingPipeline:
    """The egovops pipeline: refuse unknown log sources, expand placeholders, map each known log source.

    Build one per rule set and apply it to one rule at a time (pySigma pipelines keep per-rule state).
    """
    items: list[ProcessingItem] = [
        ProcessingItem(NoLogsourceFailure()),
        ProcessingItem(ValueListPlaceholderTransformation()),
    ]
    for logsource in LOGSOURCES:
        items.extend(_items_for(logsource))
    return ProcessingPipeline(items=items, name="egovops ECS", vars={**DEFAULT_VARS, **(variables or {})})
