"""The egovops processing pipeline: Sigma log sources and field names onto our ECS events, and the exact
reasons a rule is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from secops.detection import ir
from secops.detection.pipelines import LOGSOURCES, pipeline
from secops.detection.ruleset import RuleSet, check
from tests.components import corpus


def mapped(text: str) -> SigmaRule:
    rule = SigmaCollection.from_yaml(text).rules[0]
    assert isinstance(rule, SigmaRule)
    pipeline().apply(rule)
    return rule


def fields_of(rule: SigmaRule) -> set[str]:
    node = ir.from_sigma(rule.detection.parsed_condition[0].parsed)

    def walk(n: ir.Node) -> set[str]:
        if isinstance(n, ir.Leaf):
            return set(n.fields)
        if isinstance(n, ir.Not):
            return walk(n.arg)
        if isinstance(n, ir.And | ir.Or):
            return set().union(*(walk(a) for a in n.args))
        return set()

    return walk(node)


def rule_yaml(logsource: str, detection: str) -> str:
    body = "\n".join("  " + line for line in detection.strip().splitlines())
    return f"title: t\nlogsource: {logsource}\ndetection:\n{body}\n"


AUDITD = "{product: linux, service: auditd}"


def test_every_corpus_rule_loads() -> None:
    report = check([corpus("sigma", "rules")])
    assert (report["loaded"], report["failed"]) == (80, 0)
    by_logsource: dict[str, int] = {}
    for row in report["rules"]:
        by_logsource[row["logsource"]] = by_logsource.get(row["logsource"], 0) + 1
    assert by_logsource == {
        "linux/auditd": 53,
        "linux": 3,
        "linux/sshd": 1,
        "dns": 7,
        "webserver": 13,
        "apache": 2,
        "nginx": 1,
    }


def test_execve_arguments_become_process_args() -> None:
    rule = mapped(rule_yaml(AUDITD, "s: {type: EXECVE, a0: getcap, a2: /}\ncondition: s"))
    assert fields_of(rule) == {"event.dataset", "process.args", "process.args.0", "process.args.2"}


def test_syscall_arguments_are_registers() -> None:
    rule = mapped(rule_yaml(AUDITD, "s: {type: SYSCALL, SYSCALL: syslog, a0: 4}\ncondition: s"))
    assert fields_of(rule) == {
        "event.dataset",
        "auditd.message_type",
        "auditd.data.syscall",
        "auditd.data.a0",
    }


def test_record_types_map_to_presence_or_event_type() -> None:
    rule = mapped(rule_yaml(AUDITD, "s: {type: [PATH, SERVICE_STOP]}\ncondition: s"))
    assert fields_of(rule) == {"event.dataset", "auditd.paths.item", "auditd.message_type"}


def test_effective_uid_falls_back_to_uid(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(rule_yaml(AUDITD, "s: {type: SYSCALL, euid: 33}\ncondition: s"))
    rule = RuleSet.load([path]).rules[0]
    base = {"event": {"dataset": "auditd.log"}, "auditd": {"message_type": "syscall"}}
    assert rule.matches({**base, "user": {"id": "33"}})  # Auditbeat drops user.effective when equal
    assert rule.matches({**base, "user": {"id": "0", "effective": {"id": "33"}}})
    assert not rule.matches({**base, "user": {"id": "33", "effective": {"id": "0"}}})


@pytest.mark.parametrize(
    ("logsource", "field", "ecs"),
    [
        (AUDITD, "exe", "process.executable"),
        (AUDITD, "comm", "process.name"),
        (AUDITD, "key", "tags"),
        (AUDITD, "name", "auditd.paths.name"),
        (AUDITD, "unit", "auditd.data.unit"),
        ("{category: webserver}", "cs-uri-query", "url.original"),
        ("{category: webserver}", "cs-method", "http.request.method"),
        ("{category: webserver}", "sc-status", "http.response.status_code"),
        ("{category: webserver}", "cs-user-agent", "user_agent.original"),
        ("{category: webserver}", "c-ip", "source.ip"),
        ("{category: proxy}", "c-uri", "url.original"),
        ("{category: dns}", "query", "dns.question.name"),
        ("{category: dns}", "answer", "dns.answers.data"),
        ("{product: linux, service: sshd}", "pam_user", "user.name"),
    ],
)
def test_field_names_map_to_ecs(logsource: str, field: str, ecs: str) -> None:
    rule = mapped(rule_yaml(logsource, f"s: {{{field}: x}}\ncondition: s"))
    assert ecs in fields_of(rule)
    assert field not in fields_of(rule)


@pytest.mark.parametrize(
    ("logsource", "keyword_fields"),
    [
        (AUDITD, {"process.args", "process.title"}),
        ("{category: webserver}", {"url.original", "user_agent.original", "http.request.referrer"}),
        ("{product: linux}", {"message"}),
    ],
)
def test_keywords_search_the_log_sources_text_fields(logsource: str, keyword_fields: set[str]) -> None:
    rule = mapped(rule_yaml(logsource, "k: [needle]\ncondition: k"))
    assert (
        fields_of(rule) - {"event.dataset", "suricata.eve.event_type", "event.action", "process.name"}
        == keyword_fields
    )


def test_each_log_source_runs_on_its_datasets(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(rule_yaml("{category: webserver}", "s: {cs-method: GET}\ncondition: s"))
    rule = RuleSet.load([path]).rules[0]
    assert rule.datasets == ("modsecurity.audit", "network.pcap", "suricata.eve")
    get = {"http": {"request": {"method": "GET"}}}
    assert rule.matches({"event": {"dataset": "modsecurity.audit"}, **get})
    assert rule.matches({"event": {"dataset": "network.pcap", "action": "http-request"}, **get})
    assert not rule.matches({"event": {"dataset": "network.pcap", "action": "network_flow"}, **get})
    assert rule.matches(
        {"event": {"dataset": "suricata.eve"}, "suricata": {"eve": {"event_type": "http"}}, **get}
    )
    assert not rule.matches(
        {"event": {"dataset": "suricata.eve"}, "suricata": {"eve": {"event_type": "alert"}}, **get}
    )


def reasons(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    return [failure.reason for failure in RuleSet.load([path]).failed]


def test_unmapped_field_is_named(tmp_path: Path) -> None:
    text = rule_yaml("{category: webserver}", "s: {cs-cookie-jar: x}\ncondition: s")
    assert reasons(tmp_path, text) == ["no field mapping for field 'cs-cookie-jar' in logsource webserver"]


def test_unknown_log_source_is_named(tmp_path: Path) -> None:
    text = rule_yaml("{category: process_creation, product: windows}", "s: {Image: x}\ncondition: s")
    assert reasons(tmp_path, text) == [
        "no egovops data source for logsource {category: process_creation, product: windows}"
    ]


def test_unknown_modifier_is_named(tmp_path: Path) -> None:
    text = rule_yaml("{category: webserver}", "s: {cs-method|sortof: x}\ncondition: s")
    assert reasons(tmp_path, text) == ["Unknown modifier 'sortof'"]


def test_yaml_error_gives_the_line(tmp_path: Path) -> None:
    text = "title: t\nlogsource: {category: webserver}\ndetection:\n  s: [unclosed\n  condition: s\n"
    (reason,) = reasons(tmp_path, text)
    assert reason.startswith("YAML error at line ")
    assert reason.split()[4].rstrip(":").isdigit()


def test_unresolved_placeholder_is_named(tmp_path: Path) -> None:
    text = rule_yaml(
        "{product: egovops, service: auditd.log}", "s: {file.path|expand: '%nowhere%'}\ncondition: s"
    )
    (reason,) = reasons(tmp_path, text)
    assert "nowhere" in reason


def test_placeholders_expand_from_variables(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(
        rule_yaml(
            "{product: egovops, service: auditd.log}", "s: {file.path|expand: '%webroots%'}\ncondition: s"
        )
    )
    event = {"event": {"dataset": "auditd.log"}, "file": {"path": "/opt/site/x.php"}}
    assert not RuleSet.load([path]).rules[0].matches(event)
    assert RuleSet.load([path], {"webroots": ["/opt/site/*"]}).rules[0].matches(event)


def test_converted_queries_carry_the_data_source_condition() -> None:
    """The pipeline serves pySigma backends too: a query stands on its own over a mixed store."""
    rule = SigmaCollection.from_yaml(
        rule_yaml("{category: dns}", "s: {query: api.telegram.org}\ncondition: s")
    )
    (query,) = sqliteBackend(pipeline()).convert(rule)  # type: ignore[no-untyped-call]
    assert "`event.dataset`='suricata.eve'" in query
    assert "`suricata.eve.event_type`='dns'" in query
    assert "`dns.question.name`='api.telegram.org'" in query


def test_correlation_group_by_is_mapped(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        rule_yaml("{category: webserver}", "s: {cs-method: POST}\ncondition: s").replace(
            "title: t", "title: t\nname: posts"
        )
        + "---\ntitle: many posts\ncorrelation:\n  type: event_count\n"
        "  rules: [posts]\n  group-by: [c-ip]\n  timespan: 1m\n  condition: {gte: 10}\n"
    )
    ruleset = RuleSet.load([path])
    assert not ruleset.failed
    (correlation,) = ruleset.correlations
    assert correlation.group_by == ["source.ip"]
    (reference,) = correlation.rules or []
    assert ruleset.ref_for(reference.rule) == ruleset.rules[0].ref  # type: ignore[arg-type]


def test_log_source_names_are_unique() -> None:
    names = [source.name for source in LOGSOURCES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("- a\n- b\n", "YAML document 1 is a list, not a rule"),
        (
            rule_yaml("{category: webserver}", "s: {cs-method|re: '([a-'}\ncondition: s"),
            "Regular expression '([a-' is invalid: unterminated character set at position 1",
        ),
        (
            rule_yaml("{category: webserver}", "s: {cs-method: GET}\ncondition: s and nope"),
            "Detection 'nope' not defined in detections",
        ),
        (
            "title: c\ncorrelation: {type: event_count, rules: [gone], group-by: [source.ip], timespan: 1m, "
            "condition: {gte: 2}}\n",
            "Rule 'gone' not found in rule collection",
        ),
    ],
    ids=["not-a-mapping", "bad-regex", "undefined-detection", "unknown-rule-reference"],
)
def test_malformed_rules_are_reported(tmp_path: Path, text: str, reason: str) -> None:
    assert reasons(tmp_path, text) == [reason]
